package config

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoDataDir(t *testing.T) {
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/home/u"}, "/home/u/.local/share/erpconnector/demo"},
		{[]string{"HOME=/home/u", "XDG_DATA_HOME=/xdg"}, "/xdg/erpconnector/demo"},
		// A relative XDG_DATA_HOME is ignored, as the specification asks.
		{[]string{"HOME=/home/u", "XDG_DATA_HOME=rel"}, "/home/u/.local/share/erpconnector/demo"},
		{[]string{"HOME=/home/u", "XDG_DATA_HOME=/xdg", "ERPCONNECTOR_DATA_DIR=/srv/demo"}, "/srv/demo"},
		{[]string{"ERPCONNECTOR_DATA_DIR=demo-data"}, filepath.Join(wd, "demo-data")},
	} {
		got, err := DemoDataDir(c.env)
		if err != nil || got != c.want {
			t.Errorf("%v: %q %v, want %q", c.env, got, err, c.want)
		}
	}
	if _, err := DemoDataDir([]string{"HOME="}); err == nil || !strings.Contains(err.Error(), "ERPCONNECTOR_DATA_DIR") {
		t.Errorf("no HOME: %v, want an error naming ERPCONNECTOR_DATA_DIR", err)
	}
}

// TestLoadDemoResolvesInTheDataDir: the embedded demo is configs/demo.yaml
// read as though it lay in DATA_DIR/configs: its files land in
// DATA_DIR/data, whatever the working directory; the environment
// overrides it as it does a file, and ERPCONNECTOR_DATA_DIR is no unknown key.
func TestLoadDemoResolvesInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	f, err := LoadDemo(dir, []string{"ERPCONNECTOR_DATA_DIR=" + dir, "ERPCONNECTOR_LOG_LEVEL=debug"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "demo-state.db"); f.StatePath != want {
		t.Errorf("state_path %q, want %q", f.StatePath, want)
	}
	if want := filepath.Join(dir, "data", "demo-erp.db"); f.ERP.SQL.DSN != want {
		t.Errorf("erp.sql.dsn %q, want %q", f.ERP.SQL.DSN, want)
	}
	if !f.IsDemo() || f.LogLevel != "debug" || f.DataDir() != dir || f.Path() != "" || f.Name() != EmbeddedDemoName {
		t.Errorf("demo %v, log_level %q, data dir %q, path %q, name %q", f.IsDemo(), f.LogLevel, f.DataDir(), f.Path(), f.Name())
	}
	if u := f.UnknownEnv(); len(u) != 0 {
		t.Errorf("unknown variables %v", u)
	}
	// The same file as the repository's copy, apart from where it lies.
	file, err := Load(filepath.Join(configsDir, "demo.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.LogLevel, f.StatePath, f.ERP.SQL.DSN = file.LogLevel, file.StatePath, file.ERP.SQL.DSN
	if f.Redacted() != file.Redacted() {
		t.Errorf("the embedded demo differs from configs/demo.yaml:\n%s\n---\n%s", f.Redacted(), file.Redacted())
	}

	if _, err := LoadDemo("relative", nil); err == nil {
		t.Error("a relative data directory is accepted")
	}
	var ce *Error
	if _, err := LoadDemo(dir, []string{"ERPCONNECTOR_QUEUE_MAX_ATTEMPTS=many"}); !errors.As(err, &ce) || ce.File != EmbeddedDemoName {
		t.Errorf("a bad override: %v, want problems of the embedded demo", err)
	}
}

func TestNewLoggerAtFollowsItsLevel(t *testing.T) {
	f := &File{LogFormat: "text"}
	var b strings.Builder
	lv := new(slog.LevelVar)
	log := f.NewLoggerAt(&b, lv).With("k", "v")
	log.Debug("hidden")
	lv.Set(slog.LevelDebug)
	log.Debug("shown")
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=DEBUG msg=shown k=v") {
		t.Fatalf("wrote %q", out)
	}
}
