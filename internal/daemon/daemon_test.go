package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/adminclient"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

// TestRunReloadsWithRollback runs the daemon on a demo configuration and
// reloads it three times: a broken file is reported and the running
// configuration kept; a valid file that cannot start (its state file is
// empty) is reported and the previous configuration started again, on its
// own state; a valid change (an admin token) is applied. One-shot
// sessions find the daemon while it runs and the state once it stopped.
func TestRunReloadsWithRollback(t *testing.T) {
	path := demoConfig(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, path)
	ctl := adminclient.New("http://"+d.addr, "")
	bg := context.Background()
	waitFor(t, 30*time.Second, "the first pass", func() bool {
		st, err := ctl.Status(bg)
		return err == nil && st.Outcomes["erp_to_one"]["created"] > 0
	})
	if err := ctl.SetPaused(bg, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Sync(bg); !errors.Is(err, connector.ErrPaused) {
		t.Fatalf("sync while paused: %v, want ErrPaused", err)
	}

	// A broken file: reported, the running configuration kept.
	d.reloadWith(path, "one:\n  tenant: [\n", "keeping the running configuration")
	if st, err := ctl.Status(bg); err != nil || !st.Paused {
		t.Fatalf("status after a broken file: %+v %v", st.Paused, err)
	}

	// A valid file that fails to start: the previous configuration again.
	writeFile(t, filepath.Join(filepath.Dir(path), "empty-state.db"), "")
	d.reloadWith(path, strings.Replace(string(good), "state_path: ../data/demo-state.db", "state_path: empty-state.db", 1),
		"restarting the previous configuration")
	if !strings.Contains(d.logs.String(), "is empty") {
		t.Errorf("the rollback does not say why:\n%s", d.logs)
	}
	waitFor(t, 30*time.Second, "the previous configuration to answer", func() bool {
		st, err := ctl.Status(bg)
		return err == nil && st.Paused // the pause is in the previous state file
	})
	if m := metrics(t, ctl.Base(), ""); !strings.Contains(m, `erpconnector_config_reloads_total{result="error"} 2`) ||
		!strings.Contains(m, "erpconnector_config_last_reload_successful 0") {
		t.Fatalf("the failed reloads are not in the metrics:\n%s", m)
	}

	// A valid change: applied.
	const token = "reload-t0ken-value"
	d.reloadWith(path, strings.Replace(string(good), "admin:\n", "admin:\n  token: "+token+"\n", 1), "configuration reloaded")
	var ae *adminclient.Error
	if _, err := ctl.Status(bg); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("status without the new token: %v", err)
	}
	if st, err := adminclient.New("http://"+d.addr, token).Status(bg); err != nil || !st.Paused {
		t.Fatalf("status with the new token: %+v %v", st.Paused, err)
	}
	if m := metrics(t, ctl.Base(), token); !strings.Contains(m, `erpconnector_config_reloads_total{result="ok"} 1`) ||
		!strings.Contains(m, "erpconnector_config_last_reload_successful 1") {
		t.Fatalf("the reload is not in the metrics:\n%s", m)
	}

	// A one-shot session finds the daemon, then, once it stopped, the state.
	f := load(t, path)
	f.Admin.Listen = d.addr
	s := Open(bg, f, slog.New(slog.DiscardHandler), "test")
	if _, ok := s.Control.(*adminclient.Client); !ok || s.Daemon != "http://"+d.addr {
		t.Fatalf("session with a daemon: %T %q", s.Control, s.Daemon)
	}
	if _, err := s.Restore(path); err == nil || !strings.Contains(err.Error(), "stop it before restoring") {
		t.Fatalf("restore under a daemon: %v", err)
	}
	d.stop()
	s = Open(bg, f, slog.New(slog.DiscardHandler), "test")
	defer s.Close()
	if st, err := s.Status(bg); s.Daemon != "" || err != nil || !st.Paused {
		t.Fatalf("session without a daemon: %q %+v %v", s.Daemon, st.Paused, err)
	}
	if strings.Contains(d.logs.String(), token) {
		t.Fatal("the admin token appears in the logs")
	}
}

// runningDaemon is a daemon Run by a test.
type runningDaemon struct {
	t      *testing.T
	addr   string // the admin API's host:port
	logs   *syncbuf.Buffer
	reload chan os.Signal
	cancel context.CancelFunc
	done   chan error
}

// startDaemon runs the daemon on the configuration at path until the test
// ends (or stop), and waits for its admin API.
func startDaemon(t *testing.T, path string) *runningDaemon {
	t.Helper()
	return startDaemonAt(t, path, nil)
}

// startDaemonAt is startDaemon with a logger whose level is lv (set to the
// file's log_level, as the command does), nil for a fixed info level.
func startDaemonAt(t *testing.T, path string, lv *slog.LevelVar) *runningDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &runningDaemon{t: t, logs: &syncbuf.Buffer{}, reload: make(chan os.Signal, 1), cancel: cancel, done: make(chan error, 1)}
	addrs := make(chan string, 1)
	f := load(t, path)
	logger := slog.New(slog.NewTextHandler(d.logs, nil))
	if lv != nil {
		lv.Set(f.Level())
		logger = slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: lv}))
	}
	go func() {
		d.done <- Run(ctx, f, Options{
			Load:      func() (*config.File, error) { return config.LoadValid(path, os.Environ()) },
			Logger:    logger,
			Level:     lv,
			Reload:    d.reload,
			Listening: func(addr string) { addrs <- addr },
			Version:   "test",
		})
	}()
	t.Cleanup(d.stop)
	select {
	case d.addr = <-addrs:
	case err := <-d.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the admin API did not listen")
	}
	return d
}

// reloadWith writes content to the configuration file at path, signals a
// reload and waits for the log line that says how it went.
func (d *runningDaemon) reloadWith(path, content, logged string) {
	d.t.Helper()
	before := count(d.logs, logged)
	writeFile(d.t, path, content)
	d.reload <- os.Interrupt
	waitFor(d.t, 30*time.Second, "the log line "+logged, func() bool { return count(d.logs, logged) > before })
}

// stop ends the daemon's context and waits for Run to return (once).
func (d *runningDaemon) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Error("the daemon did not stop")
	}
}

// metrics reads /metrics of the admin API at base.
func metrics(t *testing.T, base, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
