package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// repoRoot is the repository's root, the parent of this package's directory.
const repoRoot = ".."

// tmpRoot holds what the tests build once per run (the daemon binary).
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "erpconnector-deploy-")
	if err != nil {
		panic(err)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// inCI reports whether the tests run in CI (CI=true), where a missing tool
// fails the test instead of skipping it.
func inCI() bool {
	ok, _ := strconv.ParseBool(os.Getenv("CI"))
	return ok
}

// requireTool returns the path of an external program, failing the test in
// CI and skipping it elsewhere when it is not installed.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if inCI() {
		t.Fatalf("%s is not installed (CI=true needs it; Debian package %s, which .ci/run installs)", name, pkg)
	}
	t.Skipf("%s is not installed (Debian package %s); the test runs when it is", name, pkg)
	return ""
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// daemonBinary builds cmd/erpconnector once per test run, as the image
// does: CGO_ENABLED=0, a static binary.
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out := filepath.Join(tmpRoot, "erpconnector")
		cmd := exec.Command(goBin, "build", "-o", out, "./cmd/erpconnector")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
		builtBin = out
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/erpconnector with CGO_ENABLED=0: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// TestDaemonBuildsStatic: the daemon builds with CGO_ENABLED=0 (its SQLite
// driver is pure Go) into a binary that needs no dynamic loader, so it runs
// on the image's distroless static base.
func TestDaemonBuildsStatic(t *testing.T) {
	bin := daemonBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is linked dynamically", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
	out, err := exec.Command(bin, "run", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("erpconnector run --help: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--config string")) {
		t.Errorf("erpconnector run --help lists no --config flag; the units, the image and the StatefulSet pass one:\n%s", out)
	}
}
