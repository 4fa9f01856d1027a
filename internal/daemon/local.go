package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// StateLockTimeout is how long a one-shot command waits for a state file
// another process holds (the daemon's own wait, queue.Options.LockTimeout).
const StateLockTimeout = 5 * time.Second

// Local is the connector of a configuration in this process, for a one-shot
// command when no daemon runs. It opens the connector on the first call
// that needs it: without its workers for a call that reads or changes only
// the connector's own state (the ERP may then be down), with its workers
// and the reference servers of a demo configuration for a call that talks
// to the platforms (PlanTarget, Sync, ResyncTarget). Until then Trace,
// CheckState and BackupState read the state file directly: they work on a
// file the connector would refuse to open, and without the ERP.
type Local struct {
	f       *config.File
	log     *slog.Logger
	version string
	path    string // the state file, absolute

	mu        sync.Mutex
	eng       *engine
	refs      *References
	platforms bool // eng was opened with its workers and the references
}

var _ connector.Control = (*Local)(nil)

// NewLocal returns the Local of f; nothing is opened until a call needs it.
func NewLocal(f *config.File, log *slog.Logger, version string) *Local {
	return &Local{f: f, log: log, version: version, path: statePath(f)}
}

// Connector returns the connector, opened without its workers (unless a
// call opened it with them); Close closes it.
func (l *Local) Connector(ctx context.Context) (*connector.Connector, error) {
	return l.connector(ctx, false)
}

// connector returns the connector, opening it (again, with its workers,
// when platforms asks for them and it was opened without).
func (l *Local) connector(ctx context.Context, platforms bool) (*connector.Connector, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eng != nil && (l.platforms || !platforms) {
		return l.eng.conn, nil
	}
	if err := l.closeLocked(ctx); err != nil {
		return nil, err
	}
	if platforms && l.refs == nil {
		refs, err := StartReferences(l.f, l.log)
		if err != nil {
			return nil, err
		}
		l.refs = refs
	}
	e, err := openEngine(ctx, l.f, l.log, l.version, platforms)
	if err != nil {
		return nil, err
	}
	l.eng, l.platforms = e, platforms
	return e.conn, nil
}

// opened returns the connector when it is open, nil otherwise.
func (l *Local) opened() *connector.Connector {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eng == nil {
		return nil
	}
	return l.eng.conn
}

// Close stops the connector (StopTimeout for in-flight work) and the
// reference servers.
func (l *Local) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.closeLocked(ctx)
	if l.refs != nil {
		l.refs.Close(ctx)
		l.refs = nil
	}
	return err
}

func (l *Local) closeLocked(ctx context.Context) error {
	if l.eng == nil {
		return nil
	}
	err := l.eng.close(ctx)
	l.eng = nil
	return err
}

// Status is connector.Connector.Status.
func (l *Local) Status(ctx context.Context) (connector.Status, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return connector.Status{}, err
	}
	return c.Status(ctx)
}

// Trace reads the trail from the state file (connector.TraceFile), or
// from the connector when it is open.
func (l *Local) Trace(ctx context.Context, erpKey string) (connector.Trace, error) {
	if c := l.opened(); c != nil {
		return c.Trace(ctx, erpKey)
	}
	cfg := l.f.Connector()
	var configured []mapping.Platform
	if cfg.ONe != nil {
		configured = append(configured, mapping.PlatformONe)
	}
	if cfg.CustomerAPI != nil {
		configured = append(configured, mapping.PlatformCustomerAPI)
	}
	return connector.TraceFile(ctx, l.path, erpKey, configured, StateLockTimeout)
}

// PlanTarget is connector.Connector.PlanTarget, the workers started.
func (l *Local) PlanTarget(ctx context.Context, target string, limit int) (connector.Plan, error) {
	c, err := l.connector(ctx, true)
	if err != nil {
		return connector.Plan{}, err
	}
	return c.PlanTarget(ctx, target, limit)
}

// Sync is connector.Connector.Sync, the workers started.
func (l *Local) Sync(ctx context.Context) (connector.RunResult, error) {
	c, err := l.connector(ctx, true)
	if err != nil {
		return connector.RunResult{}, err
	}
	return c.Sync(ctx)
}

// ResyncTarget is connector.Connector.ResyncTarget, the workers started.
func (l *Local) ResyncTarget(ctx context.Context, target string, progress func(connector.ResyncStatus)) (connector.RunResult, error) {
	c, err := l.connector(ctx, true)
	if err != nil {
		return connector.RunResult{}, err
	}
	return c.ResyncTarget(ctx, target, progress)
}

// SetPaused is connector.Connector.SetPaused.
func (l *Local) SetPaused(ctx context.Context, paused bool) error {
	c, err := l.connector(ctx, false)
	if err != nil {
		return err
	}
	return c.SetPaused(ctx, paused)
}

// DeadLetters is connector.Connector.DeadLetters.
func (l *Local) DeadLetters(ctx context.Context, f queue.DeadFilter) (connector.DeadLetterPage, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return connector.DeadLetterPage{}, err
	}
	return c.DeadLetters(ctx, f)
}

// DeadLetter is connector.Connector.DeadLetter.
func (l *Local) DeadLetter(ctx context.Context, id uint64) (connector.DeadLetter, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return connector.DeadLetter{}, err
	}
	return c.DeadLetter(ctx, id)
}

// ReplayDeadLetters is connector.Connector.ReplayDeadLetters.
func (l *Local) ReplayDeadLetters(ctx context.Context, f queue.DeadFilter) (queue.ReplayResult, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return queue.ReplayResult{}, err
	}
	return c.ReplayDeadLetters(ctx, f)
}

// PurgeDeadLetters is connector.Connector.PurgeDeadLetters.
func (l *Local) PurgeDeadLetters(ctx context.Context, f queue.DeadFilter) (int, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return 0, err
	}
	return c.PurgeDeadLetters(ctx, f)
}

// Cursors is connector.Connector.Cursors.
func (l *Local) Cursors(ctx context.Context) (map[string]string, error) {
	c, err := l.connector(ctx, false)
	if err != nil {
		return nil, err
	}
	return c.Cursors(ctx)
}

// SetCursor is connector.Connector.SetCursor.
func (l *Local) SetCursor(ctx context.Context, name, value string) error {
	c, err := l.connector(ctx, false)
	if err != nil {
		return err
	}
	return c.SetCursor(ctx, name, value)
}

// CheckState checks the state file directly (queue.CheckFile: a shared
// lock), or through the connector when it is open.
func (l *Local) CheckState(ctx context.Context) (queue.CheckReport, error) {
	if c := l.opened(); c != nil {
		return c.CheckState(ctx)
	}
	rep, err := queue.CheckFile(l.path, StateLockTimeout)
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("state file %s does not exist (the first start creates it): nothing to check: %w", l.path, os.ErrNotExist)
	}
	return rep, err
}

// BackupState copies the state file directly (queue.CopyFile: a shared
// lock, a damaged file is not copied), or through the connector when it
// is open.
func (l *Local) BackupState(ctx context.Context, w io.Writer) error {
	if c := l.opened(); c != nil {
		return c.BackupState(ctx, w)
	}
	err := queue.CopyFile(ctx, l.path, w, StateLockTimeout)
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("state file %s does not exist: nothing to back up: %w", l.path, os.ErrNotExist)
	}
	return err
}
