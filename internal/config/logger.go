package config

import (
	"io"
	"log/slog"
)

// Level returns log_level as a slog level (info for an unknown value,
// which Validate reports).
func (f *File) Level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// NewLogger returns a logger writing to w in log_format (json or text) at
// log_level.
func (f *File) NewLogger(w io.Writer) *slog.Logger { return f.NewLoggerAt(w, f.Level()) }

// NewLoggerAt returns a logger writing to w in log_format (json or text)
// whose handler asks level for the minimum level on each record. The
// daemon builds its one logger with a *slog.LevelVar set to log_level and
// passes both down: a reload sets the variable to the new log_level, and
// every logger derived from this one follows at once.
func (f *File) NewLoggerAt(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
