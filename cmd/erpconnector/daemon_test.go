package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

// TestDemoDaemon runs the daemon on the shipped demo configuration, in
// process: customers flow to both platforms and from the storefront into the
// ERP; a SIGHUP with a broken file keeps the running configuration; a SIGHUP
// with a good one reloads it.
func TestDemoDaemon(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "configs", "demo.yaml")
	if err := os.WriteFile(cfgPath, demo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_QUEUE_MAX_ATEMPTS", "3") // mistyped: warned about, with the key it means

	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	g := &globals{configPath: cfgPath, output: "text", stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, g, hup) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	}()

	re := regexp.MustCompile(`admin API on (http://\S+)`)
	var base string
	waitFor(t, 20*time.Second, "the admin API address", func() bool {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	if !strings.Contains(stderr.String(), "name=ERPCONNECTOR_QUEUE_MAX_ATEMPTS did_you_mean=ERPCONNECTOR_QUEUE_MAX_ATTEMPTS") {
		t.Errorf("no warning about the mistyped variable:\n%s", stderr.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status := func() connector.Status {
		_, body := get("/api/v1/status")
		var st connector.Status
		_ = json.Unmarshal([]byte(body), &st)
		return st
	}
	// Within a minute: ready, customers on both platforms, storefront
	// registrations in the ERP, invalid customers in the dead letters.
	waitFor(t, 60*time.Second, "the demo to sync", func() bool {
		code, _ := get("/readyz")
		st := status()
		return code == 200 && st.Outcomes["erp_to_one"]["created"] > 0 && st.Outcomes["erp_to_capi"]["created"] > 0 &&
			st.Outcomes["one_to_erp"]["created"] >= 3 && st.Queue.Dead > 0
	})

	// A broken file on SIGHUP: reported, the old configuration keeps running.
	if err := os.WriteFile(cfgPath, []byte("one:\n  tenant: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitFor(t, 10*time.Second, "the failed reload to be logged", func() bool {
		return strings.Contains(stderr.String(), "keeping the running configuration")
	})
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("not ready after a failed reload: %d", code)
	}
	if _, m := get("/metrics"); !strings.Contains(m, `erpconnector_config_reloads_total{result="error"} 1`) {
		t.Fatal("the failed reload is not in the metrics")
	}

	// A good file on SIGHUP: reloaded, and syncing goes on.
	if err := os.WriteFile(cfgPath, demo, 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitFor(t, 20*time.Second, "the reload", func() bool {
		return strings.Contains(stderr.String(), "configuration reloaded")
	})
	waitFor(t, 60*time.Second, "readiness after the reload", func() bool {
		code, _ := get("/readyz")
		return code == 200
	})
	if _, m := get("/metrics"); !strings.Contains(m, `erpconnector_config_reloads_total{result="ok"} 1`) {
		t.Fatal("the reload is not in the metrics")
	}
	for _, secret := range []string{"Passw0rd!", "secret\""} {
		if strings.Contains(stderr.String()+stdout.String(), secret) {
			t.Fatalf("%q appears in the daemon's output", secret)
		}
	}
	traceThroughDaemon(t, cfgPath, base, status())
}

// traceThroughDaemon: with a daemon running, status counts the bindings of
// both platforms and `trace` asks the daemon's admin API, in text and JSON.
func traceThroughDaemon(t *testing.T, cfgPath, base string, st connector.Status) {
	t.Helper()
	if st.Bindings["one"] == 0 || st.Bindings["customerapi"] == 0 {
		t.Fatalf("status bindings %v, want both platforms counted", st.Bindings)
	}
	// The command finds the daemon at admin.listen.
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", strings.TrimPrefix(base, "http://"))
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(args, "--config", cfgPath), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	// C0000005 goes to each platform in a chunk job with the first new
	// customers; wait for both (the other platform's chunk of the same
	// customers waits for the first one's locks).
	waitFor(t, 60*time.Second, "C0000005 on both platforms", func() bool {
		_, out, _ := cli("trace", "C0000005", "-o", "json")
		var tr connector.Trace
		if json.Unmarshal([]byte(out), &tr) != nil {
			return false
		}
		for _, p := range tr.Platforms {
			if !p.Bound {
				return false
			}
		}
		return len(tr.Platforms) == 2
	})
	code, out, errOut := cli("trace", "C0000005")
	if code != 0 || !strings.Contains(out, "as the running daemon knows it") || !strings.Contains(out, "bound to") ||
		!strings.Contains(out, "created") {
		t.Fatalf("trace through the daemon: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = cli("trace", "C0000005", "-o", "json")
	var tr connector.Trace
	if code != 0 || json.Unmarshal([]byte(out), &tr) != nil || tr.ERPKey != "C0000005" || len(tr.Platforms) != 2 {
		t.Fatalf("trace -o json through the daemon: exit %d\n%s%s", code, out, errOut)
	}
	for _, p := range tr.Platforms {
		if !p.Bound || p.PlatformID == "" || p.PushedAt.IsZero() || len(p.History) == 0 || p.History[0].Outcome != "created" {
			t.Errorf("trace of C0000005 on %s: %+v", p.Platform, p)
		}
	}
	if code, _, errOut := cli("trace", "NO-SUCH-KEY"); code != exitFailure || !strings.Contains(errOut, "no record of NO-SUCH-KEY") ||
		strings.Contains(errOut, "admin API") {
		t.Fatalf("trace of an unknown key through the daemon: exit %d, %s", code, errOut)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestREADMEListsEveryKey keeps the README's configuration reference in step
// with the configuration (regenerate with `erpconnector config keys`).
func TestREADMEListsEveryKey(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	writeKeyTable(&table, config.Keys())
	if !strings.Contains(string(readme), table.String()) {
		t.Fatal("README.md's configuration reference is out of date: paste the output of `erpconnector config keys`")
	}
}
