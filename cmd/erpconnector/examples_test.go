package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// The shipped example configurations are run end to end, as an integrator
// runs them: the file as shipped, the deployment's own values given as
// ERPCONNECTOR_* environment overrides and secret files, against the
// reference servers, with an ERP of the example's own layout.

const (
	exampleTenant   = "acme"
	exampleONeKey   = "one-key-for-the-example"
	exampleCAPIUser = "integration@example.com"
	exampleCAPIPass = "Example-Passw0rd!"
)

// exampleServers are the reference servers an example runs against.
type exampleServers struct {
	one     *oneapitest.Server
	oneURL  string
	capi    *customerapitest.Server
	capiURL string
}

func startExampleServers(t *testing.T) exampleServers {
	t.Helper()
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{exampleTenant: exampleONeKey}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ones := httptest.NewServer(one)
	t.Cleanup(ones.Close)
	capi := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{exampleCAPIUser: exampleCAPIPass}, Seed: 3})
	capis := httptest.NewServer(capi)
	t.Cleanup(capis.Close)
	return exampleServers{one: one, oneURL: ones.URL, capi: capi, capiURL: capis.URL}
}

// secretFile writes a secret as a deployment would: a file of its own.
func secretFile(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runExample runs the command line in process with the example file
// shipped in configs/ and returns its output; it fails the test unless the
// command exits 0.
func runExample(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--config", filepath.Join("..", "..", "configs", name))
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("erpconnector %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// exampleEnv sets what every example deployment sets: the state file, the
// admin API on a port no daemon holds, and ONe's tenant and key.
func exampleEnv(t *testing.T, dir string, srv exampleServers) {
	t.Setenv("ERPCONNECTOR_STATE_PATH", filepath.Join(dir, "state.db"))
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:1")
	t.Setenv("ERPCONNECTOR_LOG_FORMAT", "text")
	t.Setenv("ERPCONNECTOR_ONE_BASE_URL", srv.oneURL)
	t.Setenv("ERPCONNECTOR_ONE_TENANT", exampleTenant)
	t.Setenv("ERPCONNECTOR_ONE_API_KEY_FILE", secretFile(t, dir, "one-api-key", exampleONeKey))
}

// TestFilesExampleRunsEndToEnd: configs/files.example.yaml takes in a CSV
// export of its own layout and creates one ONe client per row, the ERP key
// its external id, the ids written back to the outbox.
func TestFilesExampleRunsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := startExampleServers(t)
	exampleEnv(t, dir, srv)
	exchange := filepath.Join(dir, "exchange")
	t.Setenv("ERPCONNECTOR_ERP_FILES_DIR", exchange)
	t.Setenv("ERPCONNECTOR_ERP_FILES_MIN_AGE", "0s")
	if err := os.MkdirAll(filepath.Join(exchange, "inbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	export := strings.Join([]string{
		"customer_no;kind;full_name;nip;nip_country;street;postcode;city;country_code;phone;email;currency;deleted;send_to_one;one_client_id",
		"K-100;F;Młyn Zbożowy Sp. z o.o.;5260250274;PL;ul. Prosta 1;00-001;Warszawa;PL;22 123 45 67;Biuro@Mlyn.example;PLN;0;1;",
		"K-101;F;Piekarnia Kowalski;7010002137;;ul. Długa 5;80-001;Gdańsk;;58 301 22 11;piekarnia@kowalski.example;;0;1;",
		"K-102;O;Jan Nowak;;;ul. Polna 7;30-001;Kraków;PL;+48 601 200 300;jan.nowak@example.com;PLN;0;1;",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(exchange, "inbox", "customers-2026-12-01.csv"), []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}

	runExample(t, "files.example.yaml", "sync", "--once")
	// A second pass finds nothing to do: the country name ONe was sent
	// (taken from the code) does not read as a change either way.
	runExample(t, "files.example.yaml", "sync", "--once")
	counts := srv.one.Faults().Counts()
	if c, u := counts["createClient"].Total, counts["updateClient"].Total; c != 3 || u != 0 {
		t.Errorf("%d creates and %d updates, want 3 and none", c, u)
	}

	clients := srv.one.Clients(exampleTenant)
	byExt := map[string]string{}
	for _, c := range clients {
		if c.ExternalID != "" {
			byExt[c.ExternalID] = c.ID
		}
		// The export has country codes only (PL by default): ONe gets the name.
		if c.BillingAddress.Country != "Poland" {
			t.Errorf("client %s: billing address %+v, want the country named Poland", c.ExternalID, c.BillingAddress)
		}
	}
	for _, key := range []string{"K-100", "K-101", "K-102"} {
		if byExt[key] == "" {
			t.Errorf("no ONe client for %s (clients: %d)", key, len(clients))
		}
	}
	sent, err := os.ReadDir(filepath.Join(exchange, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	var written strings.Builder
	for _, e := range sent {
		b, err := os.ReadFile(filepath.Join(exchange, "outbox", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		written.Write(b)
	}
	for key, id := range byExt {
		if !strings.Contains(written.String(), id) {
			t.Errorf("the ONe id of %s (%s) was not written back to the outbox", key, id)
		}
	}
}
