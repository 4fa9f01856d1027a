package daemon

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReloadChangesTheLogLevel: a daemon started at log_level info logs no
// debug line; a reload with log_level debug makes the running logger log
// them, without a restart; a reload back to info stops them. A log_format
// change is reported as waiting for the next start.
func TestReloadChangesTheLogLevel(t *testing.T) {
	path := demoConfig(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info := string(b)
	if !strings.Contains(info, "log_level: info\n") || !strings.Contains(info, "log_format: text\n") {
		t.Fatal("the demo configuration no longer sets log_level info and log_format text")
	}
	lv := new(slog.LevelVar)
	d := startDaemonAt(t, path, lv)
	waitReady(t, d.addr, 30*time.Second)
	// The connector's start logs debug lines (the schedules it set up);
	// at info there are none.
	if n := count(d.logs, "level=DEBUG"); n != 0 {
		t.Fatalf("%d debug lines at log_level info:\n%s", n, d.logs)
	}

	d.reloadWith(path, strings.Replace(info, "log_level: info\n", "log_level: debug\n", 1), "configuration reloaded")
	if !strings.Contains(d.logs.String(), `msg="log level changed" from=INFO to=DEBUG`) {
		t.Errorf("the level change is not logged:\n%s", d.logs)
	}
	waitFor(t, 20*time.Second, "debug lines after the reload", func() bool { return count(d.logs, "level=DEBUG") > 0 })

	// Back to info, with a format the running logger was not built with.
	back := strings.Replace(info, "log_format: text\n", "log_format: json\n", 1)
	d.reloadWith(path, back, "configuration reloaded")
	if !strings.Contains(d.logs.String(), `msg="log_format changes at the next start; the running daemon keeps its format" running=text configured=json`) {
		t.Errorf("the log_format change is not reported:\n%s", d.logs)
	}
	// The demo's schedules wake at least every 5 s: one wake would be a
	// debug line.
	time.Sleep(6 * time.Second)
	logs := d.logs.String()
	after := logs[strings.LastIndex(logs, "configuration reloaded"):]
	if strings.Contains(after, "level=DEBUG") {
		t.Fatalf("debug lines after the reload back to info:\n%s", after)
	}
	if n := strings.Count(logs, `level=INFO msg="configuration reloaded"`); n != 2 {
		t.Fatalf("%d reloads logged in text, want 2: the format changed on a reload", n)
	}
}

// TestReadyRightAfterAReload: readiness waits for each upstream's first
// poll; with schedules that poll once a year, the daemon is ready right
// after its start and again right after a reload, because each starts
// with a first pass, not on a schedule, and not with a manual sync.
func TestReadyRightAfterAReload(t *testing.T) {
	path := demoConfig(t)
	for _, run := range []string{"NEW_CUSTOMERS", "UPDATES", "FEED", "CUSTOMER_PULL", "CERTIFICATES", "RESYNC"} {
		t.Setenv("ERPCONNECTOR_SCHEDULES_"+run, "0 0 0 1 1 *")
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, path)
	waitReady(t, d.addr, 30*time.Second)

	d.reloadWith(path, string(good)+"\n# reloaded\n", "configuration reloaded")
	waitReady(t, d.addr, 10*time.Second)

	// The same after a reload that fails to start and restarts the
	// previous configuration.
	writeFile(t, strings.TrimSuffix(path, "demo.yaml")+"empty-state.db", "")
	d.reloadWith(path, strings.Replace(string(good), "state_path: ../data/demo-state.db", "state_path: empty-state.db", 1),
		"restarting the previous configuration")
	waitFor(t, 10*time.Second, "the previous configuration", func() bool {
		return count(d.logs, "connector started") >= 3
	})
	waitReady(t, d.addr, 10*time.Second)
}

// waitReady waits for the admin API at addr to answer /readyz with 200.
func waitReady(t *testing.T, addr string, limit time.Duration) {
	t.Helper()
	var last int
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			last = resp.StatusCode
			resp.Body.Close()
			if last == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answered %d, not 200, for %v", last, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
