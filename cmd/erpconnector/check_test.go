package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// refServers are reference servers on loopback with known credentials.
type refServers struct {
	oneURL, custURL string
}

const (
	refTenant   = "demo"
	refKey      = "Right-Key-4711"
	refUser     = "owner@example.com"
	refPassword = "Right-Pass-4711"
)

func startRefServers(t *testing.T) refServers {
	t.Helper()
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{refTenant: refKey}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = one.Close() })
	cust := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{refUser: refPassword}, Seed: 1})
	t.Cleanup(func() { _ = cust.Close() })
	os1, cs := httptest.NewServer(one), httptest.NewServer(cust)
	t.Cleanup(os1.Close)
	t.Cleanup(cs.Close)
	return refServers{oneURL: os1.URL, custURL: cs.URL}
}

// checkConfig writes a configuration for check: the demo's ERP layout and
// rules with reference servers off, the platforms at refs with the given
// credentials and the ERP at driver/dsn/table.
func checkConfig(t *testing.T, refs refServers, key, password, driver, dsn, table string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	delete(doc, "reference")
	delete(doc, "demo")
	doc["state_path"] = filepath.Join(dir, "state.db")
	doc["one"] = map[string]any{"base_url": refs.oneURL, "tenant": refTenant, "api_key": key, "timeout": "5s"}
	doc["customer_api"] = map[string]any{"base_url": refs.custURL, "username": refUser, "password": password, "timeout": "5s"}
	sqlSection := doc["erp"].(map[string]any)["sql"].(map[string]any)
	sqlSection["driver"], sqlSection["dsn"], sqlSection["table"] = driver, dsn, table
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "check.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sqliteERP creates a seeded SQLite demo ERP.
func sqliteERP(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "erp.db")
	tab, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", path, sqlerp.DemoTable), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		t.Fatal(err)
	}
	recs := erpgen.New(erpgen.Options{Seed: 7}).Records(5)
	if err := sqlerp.InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable, recs, time.Now()); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCheck runs erpconnector check in-process.
func runCheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"check"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCheckRejectedPlatformCredentials: reference servers that hold other
// credentials than the configuration's refuse them; check says so per
// platform, exits 5 and prints no secret.
func TestCheckRejectedPlatformCredentials(t *testing.T) {
	refs := startRefServers(t)
	erpPath := sqliteERP(t)

	good := checkConfig(t, refs, refKey, refPassword, "sqlite", erpPath, sqlerp.DemoTable)
	if code, out, errs := runCheck(t, "--config", good); code != exitOK {
		t.Fatalf("right credentials: exit %d\n%s\n%s", code, out, errs)
	}

	bad := checkConfig(t, refs, "Wrong-Key-0815", "Wrong-Pass-0815", "sqlite", erpPath, sqlerp.DemoTable)
	code, out, errs := runCheck(t, "--config", bad)
	t.Logf("check:\n%s", out)
	if code != exitPlatform {
		t.Fatalf("wrong credentials: exit %d, want %d\n%s\n%s", code, exitPlatform, out, errs)
	}
	for _, want := range []string{"erp (sql, table erp_customers): ok", "platform one (" + refs.oneURL + "): credentials refused (list 1 client)",
		"platform customerapi (" + refs.custURL + "): credentials refused (log in, list 1 organisation)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "check: a platform cannot be used") {
		t.Errorf("stderr: %s", errs)
	}
	code, js, _ := runCheck(t, "--config", bad, "-o", "json")
	if code != exitPlatform || strings.Count(js, `"credentials_refused": true`) != 2 {
		t.Errorf("json: exit %d\n%s", code, js)
	}
	for _, secret := range []string{"Wrong-Key-0815", "Wrong-Pass-0815", refKey, refPassword} {
		if strings.Contains(out+errs+js, secret) {
			t.Errorf("output holds the secret %q", secret)
		}
	}
}

// TestCheckWrongERPPassword: a PostgreSQL ERP that refuses the password is
// an ERP problem (exit 4), reported without the password. The test server
// trusts every login, so the test has one role of its own checked by
// password (a pg_hba.conf line written and removed by the test).
func TestCheckWrongERPPassword(t *testing.T) {
	dsn := pgtest.DSN(t)
	role, password := passwordRole(t, dsn)
	refs := startRefServers(t)

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "Wrong-Erp-Pass-31")
	cfg := checkConfig(t, refs, refKey, refPassword, "pgx", u.String(), "public.erp_customers")
	code, out, errs := runCheck(t, "--config", cfg)
	t.Logf("check:\n%s", out)
	if code != exitERP {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitERP, out, errs)
	}
	if !strings.Contains(out, "erp (sql, table public.erp_customers): 1 problem\n") || !strings.Contains(out, "password authentication failed") {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(out, "platform one ("+refs.oneURL+"): ok") {
		t.Errorf("the platforms are checked too:\n%s", out)
	}
	for _, secret := range []string{"Wrong-Erp-Pass-31", password} {
		if strings.Contains(out+errs, secret) {
			t.Errorf("output holds the password %q:\n%s\n%s", secret, out, errs)
		}
	}
}

// passwordRole creates a login role that the server checks by password
// (scram-sha-256 from 127.0.0.1 and ::1, ahead of the trust lines of
// pg_hba.conf) and removes both at the end. It needs a superuser.
func passwordRole(t *testing.T, dsn string) (role, password string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var super bool
	if err := db.QueryRowContext(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("the test server's user is not a superuser: pg_hba.conf cannot be changed")
	}
	role, password = fmt.Sprintf("erpc_check_%d", os.Getpid()), "Right-Erp-Pass-31"
	if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.ExecContext(ctx, "DROP ROLE IF EXISTS "+role) })
	var hba, orig string
	if err := db.QueryRowContext(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT pg_read_file($1)", hba).Scan(&orig); err != nil {
		t.Fatal(err)
	}
	write := func(content string) error {
		var oid int64
		if err := db.QueryRowContext(ctx, "SELECT lo_from_bytea(0, convert_to($1, 'UTF8'))", content).Scan(&oid); err != nil {
			return err
		}
		defer func() { _, _ = db.ExecContext(ctx, "SELECT lo_unlink($1)", oid) }()
		if _, err := db.ExecContext(ctx, "SELECT lo_export($1, $2)", oid, hba); err != nil {
			return err
		}
		_, err := db.ExecContext(ctx, "SELECT pg_reload_conf()")
		return err
	}
	lines := fmt.Sprintf("host all %[1]s 127.0.0.1/32 scram-sha-256\nhost all %[1]s ::1/128 scram-sha-256\n", role)
	if err := write(lines + orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := write(orig); err != nil {
			t.Errorf("restore %s: %v", hba, err)
		}
	})
	// The reload is asynchronous: wait until a wrong password is refused.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "probe-wrong")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		probe, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		err = probe.PingContext(ctx)
		_ = probe.Close()
		if err != nil && strings.Contains(err.Error(), "password authentication failed") {
			return role, password
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server does not check %s's password: %v", role, err)
		}
	}
}

// TestCheckPostgresColumnTypes: on PostgreSQL a cursor column of a type
// the adapter cannot order by is an ERP problem (exit 4); with a usable
// one the same table passes.
func TestCheckPostgresColumnTypes(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, schema := pgtest.Schema(t, dsn, "erpcheck")
	table := schema + "." + sqlerp.DemoTable
	ctx := context.Background()
	if err := sqlerp.CreateDemoSchema(ctx, db, sqlerp.Postgres(), table); err != nil {
		t.Fatal(err)
	}
	refs := startRefServers(t)
	cfg := checkConfig(t, refs, refKey, refPassword, "pgx", dsn, table)
	if code, out, errs := runCheck(t, "--config", cfg); code != exitOK {
		t.Fatalf("usable table: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+table+" ALTER COLUMN updated_at TYPE text"); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCheck(t, "--config", cfg)
	t.Logf("check:\n%s", out)
	if code != exitERP {
		t.Fatalf("text cursor column: exit %d, want %d\n%s\n%s", code, exitERP, out, errs)
	}
	if !strings.Contains(out, `  - cursor_column: "updated_at" is text; a timestamp cursor needs a timestamp`) {
		t.Errorf("output:\n%s", out)
	}
}
