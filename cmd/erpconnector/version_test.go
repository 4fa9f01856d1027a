package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/erpconnector/erpconnector", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-03-04T05:06:07Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	for _, c := range []struct {
		name string
		ld   string
		bi   *debug.BuildInfo
		ok   bool
		want build
	}{
		{"vcs", "", vcs, true, build{Version: "v1.4.0", Revision: "0123456789abcdef0123456789abcdef01234567",
			Modified: true, Time: "2026-03-04T05:06:07Z", Go: "go1.26.0"}},
		{"ldflags win", "1.5.0-rc1", vcs, true, build{Version: "1.5.0-rc1", Revision: "0123456789abcdef0123456789abcdef01234567",
			Modified: true, Time: "2026-03-04T05:06:07Z", Go: "go1.26.0"}},
		{"no vcs", "", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true,
			build{Version: "dev", Revision: "unknown", Time: "unknown", Go: "go1.26.0"}},
		{"no build info", "", nil, false, build{Version: "dev", Revision: "unknown", Time: "unknown", Go: runtime.Version()}},
	} {
		if got := buildFrom(c.ld, c.bi, c.ok); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	got := buildFrom("", vcs, true).text()
	want := "erpconnector v1.4.0\nrevision: 0123456789abcdef0123456789abcdef01234567 (modified)\ntime:     2026-03-04T05:06:07Z\ngo:       go1.26.0\n"
	if got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}

// TestVersionFlagAndCommand: --version and version print the same.
func TestVersionFlagAndCommand(t *testing.T) {
	var a, b, errOut bytes.Buffer
	if code := run([]string{"--version"}, &a, &errOut); code != exitOK {
		t.Fatalf("--version: exit %d %s", code, errOut.String())
	}
	if code := run([]string{"version"}, &b, &errOut); code != exitOK {
		t.Fatalf("version: exit %d %s", code, errOut.String())
	}
	if a.String() != b.String() || !strings.HasPrefix(a.String(), "erpconnector ") || !strings.Contains(a.String(), "\nrevision: ") {
		t.Fatalf("--version %q, version %q", a.String(), b.String())
	}
}

// TestVersionOfABuiltBinary builds the command as a release would, with
// version control stamping, from a git repository holding this working
// tree (a temporary copy committed once: a worktree, a submodule or a
// tarball would not be stamped), and checks that --version and version
// print the -X version, the commit and its time, and that a change not
// committed is reported.
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is needed to test the version stamping")
		}
		t.Skip("no git")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// The repository's own configuration is kept out: no signing, no hooks.
	gitEnv := append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, gitEnv
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	// The files of the working tree as it is (committed or not), without
	// what the repository ignores.
	src := t.TempDir()
	files := git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for name := range strings.SplitSeq(files, "\x00") {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(src, "init", "-q")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "snapshot")
	head := git(src, "rev-parse", "HEAD")
	sec, err := strconv.ParseInt(git(src, "show", "-s", "--format=%ct", "HEAD"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(sec, 0).UTC().Format(time.RFC3339)

	bin := filepath.Join(t.TempDir(), "erpconnector")
	buildAndCheck := func(modified bool) {
		t.Helper()
		// -buildvcs=true on the command line wins over GOFLAGS=-buildvcs=false.
		cmd := exec.Command("go", "build", "-buildvcs=true", "-trimpath", "-ldflags=-X main.version=v9.8.7-test", "-o", bin, "./cmd/erpconnector")
		cmd.Dir, cmd.Env = src, gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		rev := head
		if modified {
			rev += " (modified)"
		}
		want := "erpconnector v9.8.7-test\nrevision: " + rev + "\ntime:     " + when + "\n"
		for _, args := range [][]string{{"--version"}, {"version"}} {
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			if !strings.HasPrefix(string(out), want) {
				t.Errorf("%v printed\n%s\nwant it to begin\n%s", args, out, want)
			}
		}
		out, err := exec.Command(bin, "version", "-o", "json").Output()
		var b build
		if err != nil || json.Unmarshal(out, &b) != nil || b.Revision != head || b.Modified != modified || b.Version != "v9.8.7-test" {
			t.Errorf("version -o json: %v %s", err, out)
		}
	}
	buildAndCheck(false)
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	buildAndCheck(true)
}
