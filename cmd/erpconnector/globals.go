package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/daemon"
)

// globals are the flags every command shares.
type globals struct {
	configPath string
	output     string
	stdout     io.Writer
	stderr     io.Writer
}

// configError marks an invalid configuration (exit code 3).
type configError struct{ err error }

func (c *configError) Error() string { return c.err.Error() }
func (c *configError) Unwrap() error { return c.err }

func (g *globals) load() (*config.File, error) {
	f, err := config.LoadValid(g.configPath, os.Environ())
	if err != nil {
		return nil, &configError{err}
	}
	return f, nil
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
