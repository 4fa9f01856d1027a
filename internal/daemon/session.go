package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/adminclient"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/queue"
)

// Session is the connector a one-shot command works on: the running
// daemon's, through its admin API, or the state opened in this process
// (Local) when no daemon answers.
type Session struct {
	connector.Control
	// Daemon is the running daemon's admin API base URL; "" when no
	// daemon answered and the state is opened in this process.
	Daemon string
	// StatePath is the state file of the configuration, absolute.
	StatePath string
	local     *Local
}

// Open finds the daemon of f at admin.listen (half a second to answer) or
// prepares the state of f in this process; nothing is opened until a call
// needs it. log is the logger of the connector opened in this process.
func Open(ctx context.Context, f *config.File, log *slog.Logger, version string) *Session {
	s := &Session{StatePath: statePath(f)}
	if c := adminclient.New("http://"+f.Admin.Listen, f.Admin.Token); c.Up(ctx) {
		s.Control, s.Daemon = c, c.Base()
		return s
	}
	s.local = NewLocal(f, log, version)
	s.Control = s.local
	return s
}

// Close closes what the session opened in this process.
func (s *Session) Close() error {
	if s.local == nil {
		return nil
	}
	return s.local.Close()
}

// statePath is the state file of f, absolute when it can be.
func statePath(f *config.File) string {
	p := f.Connector().StatePath
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// Backup writes a consistent copy of the state file to dst (BackupState,
// then queue.SaveBackup: a temporary file next to dst, synced, checked,
// renamed), and returns the copy's check.
func (s *Session) Backup(ctx context.Context, dst string) (queue.CheckReport, error) {
	return queue.SaveBackup(dst, func(w io.Writer) error { return s.BackupState(ctx, w) })
}

// Restore replaces the state file with the backup src (queue.Restore);
// it refuses while a daemon answers.
func (s *Session) Restore(src string) (queue.RestoreReport, error) {
	if s.Daemon != "" {
		return queue.RestoreReport{}, fmt.Errorf("a daemon is running on this state (admin API %s): stop it before restoring", s.Daemon)
	}
	if err := os.MkdirAll(filepath.Dir(s.StatePath), 0o750); err != nil {
		return queue.RestoreReport{}, fmt.Errorf("restore: %w", err)
	}
	return queue.Restore(src, s.StatePath, StateLockTimeout)
}

// InitState initialises an empty state file when the state file is
// missing or has 0 bytes, and reports whether it did. A file that holds a
// state is checked (CheckState) and left as it is.
func (s *Session) InitState(ctx context.Context) (bool, error) {
	if fi, err := os.Stat(s.StatePath); err == nil && fi.Size() > 0 {
		if _, err := s.CheckState(ctx); err != nil {
			return false, err
		}
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(s.StatePath), 0o750); err != nil {
		return false, fmt.Errorf("state init: %w", err)
	}
	q, err := queue.Open(s.StatePath, queue.Options{InitEmpty: true, LockTimeout: StateLockTimeout})
	if err != nil {
		return false, err
	}
	if err := q.Close(); err != nil {
		return false, fmt.Errorf("state init: %w", err)
	}
	return true, nil
}
