package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/daemon"
)

// globals are the flags every command shares.
type globals struct {
	// configPath is the configuration file; "" runs the embedded demo.
	configPath string
	// dataDir is the embedded demo's data directory (--data-dir); ""
	// takes ERPCONNECTOR_DATA_DIR or the default (config.DemoDataDir).
	dataDir string
	output  string
	stdout  io.Writer
	stderr  io.Writer
}

// configError marks an invalid configuration (exit code 3).
type configError struct{ err error }

func (c *configError) Error() string { return c.err.Error() }
func (c *configError) Unwrap() error { return c.err }

// load loads and validates the configuration the command runs on.
func (g *globals) load() (*config.File, error) {
	f, err := g.loadFrom(g.configPath, true)
	if err != nil {
		return nil, &configError{err}
	}
	return f, nil
}

// loadFrom loads the configuration file at path or, when path is "", the
// embedded demo in the data directory (demoDataDir), and validates it when
// validate is set.
func (g *globals) loadFrom(path string, validate bool) (*config.File, error) {
	env := os.Environ()
	if path != "" {
		if validate {
			return config.LoadValid(path, env)
		}
		return config.Load(path, env)
	}
	dir, err := g.demoDataDir()
	if err != nil {
		return nil, err
	}
	f, err := config.LoadDemo(dir, env)
	if err != nil {
		return nil, err
	}
	if validate {
		if err := f.Validate(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// demoDataDir is the embedded demo's data directory: --data-dir, else
// ERPCONNECTOR_DATA_DIR, else the user's data directory.
func (g *globals) demoDataDir() (string, error) {
	if g.dataDir != "" {
		dir, err := filepath.Abs(g.dataDir)
		if err != nil {
			return "", fmt.Errorf("--data-dir: %w", err)
		}
		return dir, nil
	}
	return config.DemoDataDir(os.Environ())
}

// configName names the configuration for messages: the file, or the
// embedded demo.
func (g *globals) configName() string {
	if g.configPath == "" {
		return config.EmbeddedDemoName
	}
	return g.configPath
}

// logger is a one-shot command's logger: text on stderr at log_level.
func (g *globals) logger(f *config.File) *slog.Logger {
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: f.Level()}))
}

// session loads the configuration and opens the connector a one-shot
// command works on: the running daemon's, or the state in this process.
func (g *globals) session(ctx context.Context) (*daemon.Session, error) {
	f, err := g.load()
	if err != nil {
		return nil, err
	}
	return daemon.Open(ctx, f, g.logger(f), buildVersion()), nil
}

func (g *globals) json() bool { return g.output == "json" }

func (g *globals) print(v any, text func(w io.Writer)) error {
	if g.json() {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
