package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

// quietDaemon runs the daemon on the demo configuration with schedules
// that do not come round during a test, so that only what a test asks for
// runs; it returns the admin API's address.
func quietDaemon(t *testing.T) (cfgPath, addr string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "configs", "demo.yaml")
	if err := os.WriteFile(cfgPath, demo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_DEMO_STOREFRONT_REGISTRATIONS", "0")
	for _, run := range []string{"NEW_CUSTOMERS", "UPDATES", "FEED", "CUSTOMER_PULL", "CERTIFICATES", "RESYNC"} {
		t.Setenv("ERPCONNECTOR_SCHEDULES_"+run, "0 0 0 1 1 *") // New Year's midnight
	}
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	g := &globals{configPath: cfgPath, output: "text", stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, g, make(chan os.Signal)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
	re := regexp.MustCompile(`admin API on http://(\S+)`)
	waitFor(t, 30*time.Second, "the admin API address", func() bool {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	})
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", addr) // the commands find the daemon
	return cfgPath, addr
}

func daemonStatus(t *testing.T, addr string) connector.Status {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st connector.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// settled waits until the daemon's first pass (it runs one at start) is
// delivered.
func settled(t *testing.T, addr string) connector.Status {
	t.Helper()
	var st connector.Status
	waitFor(t, 60*time.Second, "the daemon's first pass", func() bool {
		st = daemonStatus(t, addr)
		running := false
		for _, r := range st.RunHistory {
			running = running || r.End.IsZero()
		}
		return st.Runs["certificates"].Runs == 1 && !running && st.Queue.Counts.Total() == 0 && st.WriteBacksPending == 0
	})
	return st
}

// renameERPCustomers changes the name of every customer of the demo ERP
// next to the configuration cfgPath, as the ERP would (updated_at now).
func renameERPCustomers(t *testing.T, cfgPath string) {
	t.Helper()
	dsn := "file:" + filepath.Join(filepath.Dir(cfgPath), "..", "data", "demo-erp.db") + "?_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE erp_customers SET name = name || ' (renamed)', updated_at = ?`, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no ERP customer renamed")
	}
}

// With a daemon running, `sync --once` has the daemon run a pass and
// returns once the pass is delivered: every run of the pass has ended and
// the queue is empty. --no-wait returns at once and says so.
func TestSyncWaitsForTheDaemon(t *testing.T) {
	cfgPath, addr := quietDaemon(t)
	cli := func(want int, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr strings.Builder
		if code := run(append(args, "--config", cfgPath), &stdout, &stderr); code != want {
			t.Fatalf("erpconnector %v: exit %d, want %d\n%s%s", args, code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	before := settled(t, addr)
	if before.Outcomes["erp_to_one"]["updated"] != 0 {
		t.Fatalf("updates before any change: %v", before.Outcomes)
	}

	// Every customer changes in the ERP: the pass pushes an update of each
	// bound one, and sync returns once every update is delivered.
	renameERPCustomers(t, cfgPath)
	out, _ := cli(0, "sync", "--once")
	st := daemonStatus(t, addr)
	if st.Queue.Counts.Total() != 0 || st.WriteBacksPending != 0 {
		t.Fatalf("sync returned before the pass was delivered: queue %+v, %d write-backs", st.Queue.Counts, st.WriteBacksPending)
	}
	for _, p := range []struct{ direction, bindings string }{{"erp_to_one", "one"}, {"erp_to_capi", "customerapi"}} {
		if got, want := st.Outcomes[p.direction]["updated"], st.Bindings[p.bindings]; got != want || want == 0 {
			t.Errorf("%s: %d updated by the time sync returned, want %d (every bound customer)", p.direction, got, want)
		}
	}
	for _, name := range []string{"new_customers", "updates", "feed", "customer_pull", "certificates"} {
		if st.Runs[name].Runs != 2 {
			t.Errorf("run %s: %d runs, want 2 (the first pass and sync's)", name, st.Runs[name].Runs)
		}
	}
	for _, want := range []string{"daemon:", "running", "erp_to_one", "updated", "run history, newest first", "new_customers"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync's output lacks %q:\n%s", want, out)
		}
	}

	out, _ = cli(0, "sync", "--once", "--no-wait")
	if !strings.Contains(out, "sync started on the running daemon; not waiting for delivery") {
		t.Errorf("sync --no-wait:\n%s", out)
	}
	waitFor(t, 30*time.Second, "the third pass", func() bool { return daemonStatus(t, addr).Runs["certificates"].Runs == 3 })

	cli(0, "pause")
	if _, errOut := cli(1, "sync", "--once"); !strings.Contains(errOut, "paused") {
		t.Errorf("sync while paused: %s", errOut)
	}
}
