package deploy

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/erpconnector/erpconnector/internal/config"
)

// dockerInstr is one Dockerfile instruction with its continuation lines
// joined.
type dockerInstr struct {
	line int
	cmd  string // upper case
	args string
}

// parseDockerfile reads the instructions of a Dockerfile, grouped by stage
// (a FROM starts one).
func parseDockerfile(t *testing.T, file string) [][]dockerInstr {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var stages [][]dockerInstr
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	sc := bufio.NewScanner(fh)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

// execForm decodes an instruction's JSON (exec) form.
func execForm(t *testing.T, in dockerInstr) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not in exec form: %v", in.line, in.cmd, in.args, err)
	}
	return v
}

// goDirective returns go.mod's go version as major, minor.
func goDirective(t *testing.T) (int, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return majorMinor(t, v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return 0, 0
}

func majorMinor(t *testing.T, v string) (int, int) {
	t.Helper()
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		t.Fatalf("version %q: want major.minor", v)
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		t.Fatalf("version %q: want major.minor", v)
	}
	return maj, mnr
}

// TestDockerfile reads deploy/Dockerfile (Docker itself is not needed):
// a Go toolchain at least go.mod's, a static build, a non-root user that is
// the StatefulSet's, the state directory a volume that holds the example
// configurations' state_path, the admin API's default port exposed, the
// binary as the entry point.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	from := strings.Fields(build[0].args)
	img, tag, _ := strings.Cut(from[0], ":")
	if img != "golang" && img != "docker.io/library/golang" {
		t.Errorf("the build stage starts FROM %s, want golang", from[0])
	}
	wantMaj, wantMin := goDirective(t)
	if maj, mnr := majorMinor(t, strings.Split(tag, "-")[0]); maj < wantMaj || maj == wantMaj && mnr < wantMin {
		t.Errorf("FROM golang:%s is older than go.mod's go %d.%d", tag, wantMaj, wantMin)
	}

	cgoOff, built := false, false
	for _, in := range build {
		switch in.cmd {
		case "ENV", "ARG":
			for _, f := range strings.Fields(in.args) {
				if f == "CGO_ENABLED=0" {
					cgoOff = true
				}
			}
		case "RUN":
			if strings.Contains(in.args, "go build") {
				if strings.Contains(in.args, "CGO_ENABLED=0") {
					cgoOff = true
				}
				if !cgoOff {
					t.Errorf("Dockerfile:%d: go build without CGO_ENABLED=0 before it", in.line)
				}
				if !strings.Contains(in.args, "./cmd/erpconnector") {
					t.Errorf("Dockerfile:%d: go build of something other than ./cmd/erpconnector", in.line)
				}
				built = true
			}
		}
	}
	if !built {
		t.Error("the build stage runs no go build")
	}

	var user string
	var volumes, exposed, entry, cmd []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "VOLUME":
			if strings.HasPrefix(in.args, "[") {
				volumes = append(volumes, execForm(t, in)...)
			} else {
				volumes = append(volumes, strings.Fields(in.args)...)
			}
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			entry = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		case "ENV":
			if strings.Contains(in.args, config.EnvPrefix) {
				// An ERPCONNECTOR_ variable overrides the mounted
				// configuration's key, which the Kubernetes test reads.
				t.Errorf("Dockerfile:%d: the image sets %s; leave the keys to the configuration", in.line, in.args)
			}
		}
	}

	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); user == "" || uid == "root" || err == nil && n == 0 {
		t.Errorf("the image runs as %q, want a non-root user", user)
	} else if err != nil {
		t.Errorf("USER %s: give the numeric uid, so that runAsNonRoot can check it", user)
	} else {
		byKind, _ := kubeManifests(t, kubeDir)
		var spec statefulSetSpec
		sts := one(t, byKind, "StatefulSet")
		if err := sts.Spec.Decode(&spec); err != nil {
			t.Fatal(err)
		}
		if sc := spec.Template.Spec.SecurityContext; sc.RunAsUser != int64(n) {
			t.Errorf("the StatefulSet runs as uid %d, the image as %d", sc.RunAsUser, n)
		}
	}

	// The state_path of every shipped production configuration (and of the
	// Kubernetes ConfigMap) lies on the volume.
	statePaths := map[string]string{}
	for _, f := range []string{"production.example.yaml", "integer-keys.example.yaml", "files.example.yaml"} {
		statePaths["configs/"+f] = stateKey(t, filepath.Join(repoRoot, "configs", f))
	}
	byKind, _ := kubeManifests(t, kubeDir)
	var cm map[string]any
	if err := yaml.Unmarshal([]byte(one(t, byKind, "ConfigMap").Data["config.yaml"]), &cm); err != nil {
		t.Fatal(err)
	}
	statePaths["kubernetes/configmap.yaml"], _ = cm["state_path"].(string)
	for src, sp := range statePaths {
		covered := false
		for _, v := range volumes {
			if rel, err := filepath.Rel(v, sp); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s: state_path %q lies on no VOLUME (%v)", src, sp, volumes)
		}
	}

	_, port, err := net.SplitHostPort(config.DefaultAdminListen)
	if err != nil {
		t.Fatal(err)
	}
	if len(exposed) != 1 || strings.TrimSuffix(exposed[0], "/tcp") != port {
		t.Errorf("EXPOSE %v, want the admin API's default port %s", exposed, port)
	}

	if len(entry) != 1 || filepath.Base(entry[0]) != "erpconnector" {
		t.Errorf("ENTRYPOINT %q, want the erpconnector binary", entry)
	}
	if len(cmd) != 3 || cmd[0] != "run" || cmd[1] != "--config" || !strings.HasPrefix(cmd[2], "/etc/erpconnector/") {
		t.Errorf("CMD %q, want run --config /etc/erpconnector/…", cmd)
	}
}

// stateKey reads a configuration file's state_path as written.
func stateKey(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	s, _ := m["state_path"].(string)
	return s
}
