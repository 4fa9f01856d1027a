package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/erpconnector/erpconnector/configs"
)

// EnvDataDir is the environment variable that names the embedded demo's
// data directory; it is not a key, so Load does not report it as unknown.
const EnvDataDir = EnvPrefix + "DATA_DIR"

// EmbeddedDemoName stands for the embedded demo where a file name would
// be printed (problems, the reload log).
const EmbeddedDemoName = "embedded demo (configs/demo.yaml)"

// DemoDataDir returns the data directory of the embedded demo, absolute:
// ERPCONNECTOR_DATA_DIR when set, else $XDG_DATA_HOME/erpconnector/demo
// (an absolute XDG_DATA_HOME only, as the XDG specification asks), else
// $HOME/.local/share/erpconnector/demo. The variables are read from env
// ("NAME=value" entries), never from the process.
func DemoDataDir(env []string) (string, error) {
	vars := map[string]string{}
	for _, kv := range env {
		if name, val, ok := strings.Cut(kv, "="); ok {
			vars[name] = val
		}
	}
	if d := vars[EnvDataDir]; d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("config: %s: %w", EnvDataDir, err)
		}
		return abs, nil
	}
	if x := vars["XDG_DATA_HOME"]; filepath.IsAbs(x) {
		return filepath.Join(x, "erpconnector", "demo"), nil
	}
	if h := vars["HOME"]; filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "erpconnector", "demo"), nil
	}
	return "", fmt.Errorf("config: no data directory for the embedded demo: HOME is not set; set %s", EnvDataDir)
}

// LoadDemo loads the demo configuration compiled into the binary
// (configs/demo.yaml) as Load loads a file, environment overrides
// included. The embedded file stands where the repository's copy does,
// with dataDir in the repository's place: its relative paths resolve
// against dataDir/configs, so its ../data/ files (the state, the SQLite
// ERP, the reference servers' data) land in dataDir/data/ whatever the
// working directory. Load does not validate: call Validate.
func LoadDemo(dataDir string, env []string) (*File, error) {
	if !filepath.IsAbs(dataDir) {
		return nil, errors.New("config: the embedded demo needs an absolute data directory")
	}
	f, err := load(configs.Demo, filepath.Join(dataDir, "configs"), env)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = EmbeddedDemoName
		}
		return nil, err
	}
	f.dataDir = dataDir
	return f, nil
}

// DataDir returns the data directory of the embedded demo when the
// configuration is the embedded demo (LoadDemo), "" for a file.
func (f *File) DataDir() string { return f.dataDir }
