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
// log_level. The daemon builds its one logger with it and passes it down.
func (f *File) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: f.Level()}
	if f.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
