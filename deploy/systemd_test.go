package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/config"
)

// installedBinary is where the units (and the image) expect the daemon.
const installedBinary = "/usr/local/bin/erpconnector"

// unitKeys reads a unit file's [Service] (and other) keys: section.key → values.
func unitKeys(t *testing.T, file string) map[string][]string {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is no key=value", file, line)
			}
			keys[section+"."+strings.TrimSpace(k)] = append(keys[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// verifyUnit runs systemd-analyze verify on a unit (a file in dir, or an
// instance of a template there) and fails on any complaint: verify exits 0
// on unknown keys and bad values, which it only prints.
func verifyUnit(t *testing.T, analyze, dir, unit string) {
	t.Helper()
	cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, unit))
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

// TestSystemdUnits checks both units with systemd-analyze verify (the
// daemon's path replaced by a freshly built binary, since verify wants the
// executable to exist), then what the README promises of them: run
// --config with the tenant's file, SIGHUP to reload, a restart on failure,
// a state directory that the ERPCONNECTOR_STATE_PATH override points into,
// a dedicated user and the hardening options.
func TestSystemdUnits(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	bin := daemonBinary(t)
	dir := t.TempDir()

	for _, c := range []struct {
		file, config, stateDir string
		verify                 []string
	}{
		{"erpconnector.service", "/etc/erpconnector/config.yaml", "erpconnector", []string{"erpconnector.service"}},
		{"erpconnector@.service", "/etc/erpconnector/%i.yaml", "erpconnector/%i", []string{"erpconnector@.service", "erpconnector@acme.service"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			src := filepath.Join("systemd", c.file)
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			k := unitKeys(t, src)
			want := installedBinary + " run --config " + c.config
			if got := k["Service.ExecStart"]; len(got) != 1 || got[0] != want {
				t.Errorf("ExecStart %q, want %q", got, want)
			}
			for key, want := range map[string]string{
				"Service.ExecReload":            "/bin/kill -HUP $MAINPID",
				"Service.Restart":               "on-failure",
				"Service.StateDirectory":        c.stateDir,
				"Service.User":                  "erpconnector",
				"Service.NoNewPrivileges":       "yes",
				"Service.ProtectSystem":         "strict",
				"Service.ProtectHome":           "yes",
				"Service.PrivateTmp":            "yes",
				"Service.TimeoutStopSec":        "15s",
				"Service.SystemCallFilter":      "@system-service",
				"Service.CapabilityBoundingSet": "",
				"Install.WantedBy":              "multi-user.target",
			} {
				if got := k[key]; !slices.Equal(got, []string{want}) {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			if ts := k["Service.TimeoutStopSec"]; len(ts) != 1 {
				t.Errorf("TimeoutStopSec %q: want one", ts)
			} else if d, err := time.ParseDuration(ts[0]); err != nil || d < stopBudget {
				t.Errorf("TimeoutStopSec %q is less than the %s a graceful stop may take", k["Service.TimeoutStopSec"], stopBudget)
			}
			// The state path: the override names a file in the state
			// directory (%S is /var/lib), and it is a real configuration key.
			var statePath string
			for _, e := range k["Service.Environment"] {
				if v, ok := strings.CutPrefix(e, "ERPCONNECTOR_STATE_PATH="); ok {
					statePath = v
				}
			}
			if filepath.Dir(statePath) != "%S/"+c.stateDir {
				t.Errorf("ERPCONNECTOR_STATE_PATH=%q is not a file of the StateDirectory %s", statePath, c.stateDir)
			}
			f, err := config.Load("", []string{"ERPCONNECTOR_STATE_PATH=/var/lib/erpconnector/acme/state.db"})
			if err != nil {
				t.Fatal(err)
			}
			if f.StatePath != "/var/lib/erpconnector/acme/state.db" {
				t.Errorf("ERPCONNECTOR_STATE_PATH does not set state_path (got %q)", f.StatePath)
			}

			// systemd-analyze verify on a copy that runs the built binary.
			text := string(b)
			if !strings.Contains(text, "ExecStart="+installedBinary+" ") {
				t.Fatalf("ExecStart does not run %s", installedBinary)
			}
			text = strings.ReplaceAll(text, "ExecStart="+installedBinary+" ", "ExecStart="+bin+" ")
			if err := os.WriteFile(filepath.Join(dir, c.file), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, u := range c.verify {
				verifyUnit(t, analyze, dir, u)
			}
		})
	}
}

// TestSystemdVerifyComplains: the check above fails on a unit systemd
// would run differently than written (verify itself exits 0 on these).
func TestSystemdVerifyComplains(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	unit := "[Service]\nExecStart=/bin/true\nProtectSystem=strickt\n"
	if err := os.WriteFile(filepath.Join(dir, "broken.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "broken.service")).CombinedOutput()
	if !strings.Contains(string(out), "strickt") {
		t.Errorf("systemd-analyze verify says nothing of a bad ProtectSystem value; output:\n%s", out)
	}
}
