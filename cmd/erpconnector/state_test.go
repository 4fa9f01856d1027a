package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/daemon"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
	"github.com/erpconnector/erpconnector/queue"
)

// stateEnv is a work directory with the demo configuration for the state
// tests, and the erpconnector binary built from this package.
type stateEnv struct {
	t       *testing.T
	bin     string
	dir     string
	config  string
	state   string
	adminAt string
}

// buildBinary builds erpconnector into a temporary directory: the tests
// below run it as a separate process, as an operator would.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "erpconnector")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func newStateEnv(t *testing.T, bin string) *stateEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "configs", "demo.yaml")
	if err := os.WriteFile(cfg, demo, 0o644); err != nil {
		t.Fatal(err)
	}
	return &stateEnv{t: t, bin: bin, dir: dir, config: cfg, state: filepath.Join(dir, "data", "demo-state.db"), adminAt: freeAddr(t)}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (e *stateEnv) command(ctx context.Context, admin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append(args, "--config", e.config)...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "ERPCONNECTOR_ADMIN_LISTEN="+admin,
		"ERPCONNECTOR_REFERENCE_ONE_LISTEN=127.0.0.1:0", "ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN=127.0.0.1:0")
	return cmd
}

// run runs the binary to completion and returns its exit code and output.
func (e *stateEnv) run(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	code, stdout, stderr, err := e.runAt(e.adminAt, args...)
	if err != nil {
		e.t.Fatalf("%v: %v", args, err)
	}
	noCrash(e.t, args, stdout+stderr)
	return code, stdout, stderr
}

// runAt runs the binary with the admin API address admin; it may be
// called from any goroutine.
func (e *stateEnv) runAt(admin string, args ...string) (code int, stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, admin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	return code, out.String(), errb.String(), err
}

// must runs the binary and fails the test unless it exits with want.
func (e *stateEnv) must(want int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	code, stdout, stderr := e.run(args...)
	if code != want {
		e.t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout, stderr)
	}
	return stdout, stderr
}

var crashRE = regexp.MustCompile(`panic:|SIGBUS|SIGSEGV|fatal error|goroutine \d+ \[|unexpected fault address`)

func noCrash(t *testing.T, args []string, out string) {
	t.Helper()
	if crashRE.MatchString(out) {
		t.Fatalf("%v crashed:\n%s", args, out)
	}
	if strings.Contains(out, "%!") {
		t.Fatalf("%v: badly formatted output:\n%s", args, out)
	}
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// seed makes a state with data: the ONe feed cursor set through the
// binary, and a dead letter.
func (e *stateEnv) seed() {
	e.t.Helper()
	e.must(0, "cursor", "set", "one.feed", "4242")
	s, err := queue.Open(e.state, queue.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Enqueue(ctx, queue.Job{Type: "one.push", Key: "C7654321", Payload: []byte(`{"erp_key":"C7654321"}`)}); err != nil {
		e.t.Fatal(err)
	}
	l, err := s.Lease(ctx, 10, "one.push")
	if err != nil || len(l) != 1 {
		e.t.Fatalf("lease: %v %v", l, err)
	}
	if err := s.Fail(ctx, l[0], errors.New("tin: is required for companies")); err != nil {
		e.t.Fatal(err)
	}
}

// wantData checks, through the binary, that the seeded data is there.
func (e *stateEnv) wantData() {
	e.t.Helper()
	out, _ := e.must(0, "cursor", "get", "one.feed")
	if strings.TrimSpace(out) != "4242" {
		e.t.Fatalf("cursor one.feed: %q", out)
	}
	out, _ = e.must(0, "dlq", "list")
	contains(e.t, "dlq list", out, "C7654321", "tin: is required for companies")
}

// damageKinds break a state file the ways the tests try.
var damageKinds = []struct {
	name, want string
	apply      func(t *testing.T, path string)
}{
	{"truncated", "truncated", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/3); err != nil {
			t.Fatal(err)
		}
	}},
	{"bad magic", "not a bbolt state file", func(t *testing.T, path string) {
		ps := int64(os.Getpagesize())
		patch(t, path, 16, []byte("XXXX"))
		patch(t, path, ps+16, []byte("XXXX"))
	}},
	{"corrupted pages", "overwritten", func(t *testing.T, path string) {
		// Every page but the meta pages: the root bucket's page with them.
		ps := int64(os.Getpagesize())
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		patch(t, path, 2*ps, make([]byte, fi.Size()-2*ps))
	}},
	{"not bbolt", "not a bbolt state file", func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte("this is not a state file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStateBinary runs the built binary against damaged, truncated and
// empty state files, backs up and restores, and starts two daemons on one
// state file.
func TestStateBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("damaged", func(t *testing.T) {
		e := newStateEnv(t, bin)
		e.seed()
		good := filepath.Join(e.dir, "good.db")
		copyTo(t, e.state, good)
		for _, d := range damageKinds {
			t.Run(d.name, func(t *testing.T) {
				copyTo(t, good, e.state)
				d.apply(t, e.state)
				// The daemon, a one-shot command and the check: exit 1, the
				// path, the problem, the recovery steps; no crash.
				for _, args := range [][]string{{"run"}, {"status"}, {"state", "check"}} {
					code, stdout, stderr := e.run(args...)
					if code != exitFailure {
						t.Fatalf("%v: exit %d, want 1\n%s%s", args, code, stdout, stderr)
					}
					contains(t, fmt.Sprint(args), stderr, "state file damaged: "+e.state+": ", d.want,
						"erpconnector state restore BACKUP", "mv "+e.state+" "+e.state+".damaged", "erpconnector resync")
				}
			})
		}
		// Moved away, the next start begins empty.
		if err := os.Rename(e.state, e.state+".damaged"); err != nil {
			t.Fatal(err)
		}
		e.must(0, "status")
		out, _ := e.must(0, "state", "check")
		contains(t, "state check", out, e.state+": ok")
	})

	t.Run("empty", func(t *testing.T) {
		e := newStateEnv(t, bin)
		if err := os.MkdirAll(filepath.Dir(e.state), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.state, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"run"}, {"status"}, {"state", "check"}} {
			code, stdout, stderr := e.run(args...)
			if code != exitFailure {
				t.Fatalf("%v: exit %d, want 1\n%s%s", args, code, stdout, stderr)
			}
			contains(t, fmt.Sprint(args), stderr, "state file "+e.state+" is empty: ", "erpconnector state init")
		}
		if fi, _ := os.Stat(e.state); fi.Size() != 0 {
			t.Fatal("the empty file was changed")
		}
		out, _ := e.must(0, "state", "init")
		contains(t, "state init", out, "initialised")
		out, _ = e.must(0, "state", "init")
		contains(t, "state init", out, "already holds a state")
		e.must(0, "state", "check")
		e.seed()
		e.wantData()
	})

	t.Run("backup and restore", func(t *testing.T) {
		e := newStateEnv(t, bin)
		e.seed()
		backup := filepath.Join(e.dir, "backup.db")
		out, _ := e.must(0, "state", "backup", backup)
		contains(t, "state backup", out, "written to "+backup, "1 dead letters")
		out, _ = e.must(0, "state", "check", backup)
		contains(t, "state check", out, backup+": ok")
		// A backup into a directory gets a dated name.
		out, _ = e.must(0, "state", "backup", e.dir)
		if !regexp.MustCompile(`written to \S+/state-\d{8}T\d{6}Z\.db`).MatchString(out) {
			t.Errorf("backup into a directory: %s", out)
		}
		// The state file itself is no backup target.
		e.must(exitUsage, "state", "backup", e.state)

		damageKinds[0].apply(t, e.state)
		_, stderr := e.must(1, "cursor", "get", "one.feed")
		contains(t, "cursor get", stderr, "state file damaged")
		// A damaged backup is refused and nothing changes.
		bad := filepath.Join(e.dir, "bad.db")
		copyTo(t, backup, bad)
		damageKinds[2].apply(t, bad)
		_, stderr = e.must(1, "state", "restore", bad)
		contains(t, "restore of a damaged backup", stderr, "nothing was changed")
		out, _ = e.must(0, "state", "restore", backup)
		contains(t, "state restore", out, "restored from "+backup, "kept as "+e.state+".replaced-")
		e.wantData()
		e.must(exitUsage, "state", "restore")
		e.must(exitUsage, "state", "backup")
	})

	t.Run("two processes", func(t *testing.T) {
		e := newStateEnv(t, bin)
		e.seed()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		daemon := e.command(ctx, e.adminAt, "run")
		out := &syncbuf.Buffer{}
		daemon.Stdout, daemon.Stderr = out, io.Discard
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = daemon.Process.Signal(syscall.SIGTERM)
			_ = daemon.Wait()
		}()
		waitFor(t, 60*time.Second, "the daemon", func() bool { return strings.Contains(out.String(), "erpconnector running") })

		// A second daemon, and a one-shot command that does not find the
		// first daemon's admin API: both wait, then name the lock.
		other := freeAddr(t)
		type result struct {
			args         []string
			code         int
			stdout, errs string
			err          error
		}
		results := make(chan result, 2)
		for _, args := range [][]string{{"run"}, {"state", "check"}} {
			go func() {
				code, stdout, stderr, err := e.runAt(other, args...)
				results <- result{args, code, stdout, stderr, err}
			}()
		}
		for range 2 {
			r := <-results
			if r.err != nil {
				t.Fatalf("%v: %v", r.args, r.err)
			}
			noCrash(t, r.args, r.stdout+r.errs)
			if r.code != exitFailure {
				t.Errorf("%v: exit %d, want 1\n%s%s", r.args, r.code, r.stdout, r.errs)
			}
			contains(t, fmt.Sprint(r.args), r.errs, "state file "+e.state+" is locked by another process", "admin API")
		}
		// Restore refuses while the daemon runs.
		_, stderr := e.must(1, "state", "restore", e.state)
		contains(t, "state restore", stderr, "stop it before restoring")

		// Through the daemon's admin API: check and a hot backup.
		code, stdout, stderr := e.run("state", "check")
		if code != 0 {
			t.Fatalf("state check through the daemon: exit %d\n%s%s", code, stdout, stderr)
		}
		contains(t, "state check", stdout, e.state+": ok", "checked by the running daemon")
		backup := filepath.Join(e.dir, "hot.db")
		stdout, _ = e.must(0, "state", "backup", backup)
		contains(t, "state backup", stdout, "taken by the running daemon")

		// Stopped, the daemon's state is restored from its hot backup
		// (the daemon went on working: its feed cursor is the backup's).
		_ = daemon.Process.Signal(syscall.SIGTERM)
		_ = daemon.Wait()
		s, err := queue.Open(backup, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		feed, _, err := s.GetCursor(context.Background(), "one.feed")
		s.Close()
		if err != nil || len(feed) == 0 {
			t.Fatalf("cursor in the backup: %q %v", feed, err)
		}
		damageKinds[0].apply(t, e.state)
		e.must(0, "state", "restore", backup)
		stdout, _ = e.must(0, "cursor", "get", "one.feed")
		if strings.TrimSpace(stdout) != string(feed) {
			t.Fatalf("cursor after the restore: %q, want %q", stdout, feed)
		}
	})
}

// TestStateThroughAdminAPI runs state check and state backup against the
// state routes (connector.StateHandler) served next to the admin API by a
// connector holding the state file, in process.
func TestStateThroughAdminAPI(t *testing.T) {
	e := newStateEnv(t, "")
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", e.adminAt)
	t.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
	f, err := config.LoadValid(e.config, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	local := daemon.NewLocal(f, slog.New(slog.DiscardHandler), "test")
	defer local.Close()
	conn, err := local.Connector(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetCursor(context.Background(), "one.feed", "4242"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", conn.AdminHandler(connector.AdminOptions{}))
	mux.Handle("GET /api/v1/state/", conn.StateHandler())
	ln, err := net.Listen("tcp", e.adminAt)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	cli := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append(args, "--config", e.config), &stdout, &stderr); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	out := cli(0, "state", "check")
	contains(t, "state check", out, e.state+": ok", "checked by the running daemon")
	backup := filepath.Join(e.dir, "hot.db")
	out = cli(0, "state", "backup", backup, "-o", "json")
	contains(t, "state backup", out, `"through_daemon": true`, `"backup": "`+backup+`"`)
	rep, err := queue.CheckFile(backup, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys == 0 {
		t.Fatalf("backup report %+v", rep)
	}
	// The backup holds the cursor set through the running connector.
	s, err := queue.Open(backup, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.GetCursor(context.Background(), "one.feed")
	s.Close()
	if err != nil || !ok || string(v) != "4242" {
		t.Fatalf("cursor in the backup: %q %v %v", v, ok, err)
	}
	// Restore refuses while the daemon answers.
	var stderr bytes.Buffer
	if code := run([]string{"state", "restore", backup, "--config", e.config}, io.Discard, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "stop it before restoring") {
		t.Fatalf("restore under a daemon: %d %s", code, stderr.String())
	}
}
