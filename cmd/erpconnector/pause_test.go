package main

import (
	"context"
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

// TestPauseThroughTheDaemon: `erpconnector pause` reaches the running
// daemon through its admin API (with its request header and Host); the
// pause survives a restart of the daemon, which says so in its logs and its
// status; `erpconnector resume` undoes it through the API.
func TestPauseThroughTheDaemon(t *testing.T) {
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
	t.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_DEMO_STOREFRONT_REGISTRATIONS", "0")

	// daemon starts the daemon and returns its admin address and a stop
	// function that reports how long the daemon took to exit.
	daemon := func() (addr string, logs *syncbuf.Buffer, stop func() time.Duration) {
		t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:0")
		stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
		g := &globals{configPath: cfgPath, output: "text", stdout: stdout, stderr: stderr}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runDaemon(ctx, g, make(chan os.Signal)) }()
		re := regexp.MustCompile(`admin API on http://(\S+)`)
		waitFor(t, 30*time.Second, "the admin API address", func() bool {
			if m := re.FindStringSubmatch(stdout.String()); m != nil {
				addr = m[1]
				return true
			}
			return false
		})
		stopped := false
		stop = func() time.Duration {
			if stopped {
				return 0
			}
			stopped = true
			begin := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("daemon: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the daemon did not stop")
			}
			return time.Since(begin)
		}
		t.Cleanup(func() { stop() })
		return addr, stderr, stop
	}
	// cli runs a command against the daemon at addr.
	cli := func(addr string, args ...string) string {
		t.Helper()
		t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", addr)
		var stdout, stderr strings.Builder
		if code := run(append(args, "--config", cfgPath), &stdout, &stderr); code != 0 {
			t.Fatalf("erpconnector %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	status := func(addr string) connector.Status {
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

	addr, _, stop := daemon()
	if out := cli(addr, "pause"); !strings.Contains(out, "schedules paused in the running daemon") {
		t.Fatalf("pause: %s", out)
	}
	if !status(addr).Paused {
		t.Fatal("the daemon is not paused")
	}
	if out := cli(addr, "status"); !regexp.MustCompile(`daemon:\s+running`).MatchString(out) || !regexp.MustCompile(`paused:\s+true`).MatchString(out) {
		t.Fatalf("status through the daemon:\n%s", out)
	}
	t.Logf("the daemon stopped %s after its context ended", stop().Round(time.Millisecond))

	addr, logs, stop := daemon()
	if !status(addr).Paused {
		t.Fatal("the restarted daemon is not paused")
	}
	waitFor(t, 10*time.Second, "the daemon to log that it is paused", func() bool {
		return strings.Contains(logs.String(), "schedules paused") && strings.Contains(logs.String(), "schedules are paused")
	})
	if out := cli(addr, "resume", "-o", "json"); !strings.Contains(out, `"paused": false`) || !strings.Contains(out, `"daemon": true`) {
		t.Fatalf("resume: %s", out)
	}
	if status(addr).Paused {
		t.Fatal("still paused after resume")
	}
	// The other mutating calls of the command line pass the guard too.
	cli(addr, "sync", "--once")
	cli(addr, "cursor", "set", "one.feed", "1")
	cli(addr, "dlq", "replay", "--all")
	stop()
}
