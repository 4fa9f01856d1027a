package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// Control is what an operator asks of a connector: the one-shot commands of
// the command line are written against it once. The *Connector of this
// process implements it directly; the admin API client
// (internal/adminclient) implements it over the admin API of a running
// daemon, whose routes call these same methods or their background forms.
type Control interface {
	// Status is the status snapshot.
	Status(ctx context.Context) (Status, error)
	// Trace is the trail of one ERP customer (ErrNoRecord when the state
	// holds nothing of it).
	Trace(ctx context.Context, erpKey string) (Trace, error)
	// PlanTarget reports what a sync would do on the platforms target
	// names ("one", "customer_api", "all"), listing at most limit items per
	// platform, without writing. A target that names no configured
	// platform is an ErrTarget.
	PlanTarget(ctx context.Context, target string, limit int) (Plan, error)
	// Sync runs the ERP scans and the platform polls once. A connector of
	// this process returns once their work is delivered; a daemon returns
	// once it has started them (RunResult.Delivered unset). ErrPaused while
	// the schedules are paused.
	Sync(ctx context.Context) (RunResult, error)
	// ResyncTarget runs (or resumes) a full resync of the platforms target
	// names, telling progress (when not nil) how far it is while it runs.
	// A connector of this process returns once the resync's work is
	// delivered; a daemon returns once the resync has queued it.
	ResyncTarget(ctx context.Context, target string, progress func(ResyncStatus)) (RunResult, error)
	// SetPaused pauses or resumes the schedules, kept in the state file.
	SetPaused(ctx context.Context, paused bool) error
	// DeadLetters lists dead letters by filter (Type, AfterID, Limit).
	DeadLetters(ctx context.Context, f queue.DeadFilter) (DeadLetterPage, error)
	// DeadLetter is one dead letter with its payload and history
	// (queue.ErrNotFound when there is none by that id).
	DeadLetter(ctx context.Context, id uint64) (DeadLetter, error)
	// ReplayDeadLetters puts the dead letters of a filter (IDs, Type; the
	// zero filter: every one) back in the queue.
	ReplayDeadLetters(ctx context.Context, f queue.DeadFilter) (queue.ReplayResult, error)
	// PurgeDeadLetters deletes the dead letters of a filter for good and
	// returns how many.
	PurgeDeadLetters(ctx context.Context, f queue.DeadFilter) (int, error)
	// Cursors returns every cursor of CursorNames.
	Cursors(ctx context.Context) (map[string]string, error)
	// SetCursor sets a cursor by hand (logged with the old value).
	SetCursor(ctx context.Context, name, value string) error
	// CheckState checks the state file as of now; the error says what is
	// wrong with it.
	CheckState(ctx context.Context) (queue.CheckReport, error)
	// BackupState writes a consistent copy of the state file to w.
	BackupState(ctx context.Context, w io.Writer) error
}

var _ Control = (*Connector)(nil)

// RunResult is what a sync or a resync asked through a Control had done
// when the call returned.
type RunResult struct {
	// Delivered is set when the work the run queued was delivered before
	// the call returned (a connector of this process waits for its
	// workers). Unset, a running daemon took the run on: its workers
	// deliver the work (see Status).
	Delivered bool `json:"delivered"`
}

// ResyncStatus is how far a resync is, for a progress bar.
type ResyncStatus struct {
	// Progress is the fraction done, 0..1 (-1 when not known).
	Progress float64 `json:"progress"`
	// RecordsDone counts the records the resync has read.
	RecordsDone int `json:"records_done"`
	// RecordsTotal is how many records the resync will read, as its plan
	// counted them (0 when the plan does not know).
	RecordsTotal int `json:"records_total,omitempty"`
	// Platform is the platform being resynced (a resync of all goes
	// through them one at a time, each counting its own records).
	Platform string `json:"platform,omitempty"`
	// Queued counts the jobs in the queue.
	Queued int `json:"queued"`
}

// ResyncPlatform is the platform of a resync's migration name.
func ResyncPlatform(migration string) string { return strings.TrimPrefix(migration, "resync.") }

// DeadLetterPage is one page of dead letters, as GET /api/v1/dlq answers.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	// Next is the id to list after for the next page (0: no more).
	Next uint64 `json:"next"`
}

// ErrTarget marks a resync or plan target that names no configured
// platform.
var ErrTarget = errors.New("connector: not a configured platform")

// targetError is a bad target, with its own message, that is an ErrTarget.
type targetError struct{ msg string }

func (e *targetError) Error() string { return e.msg }
func (e *targetError) Unwrap() error { return ErrTarget }

// PlanTarget is Plan for the platforms target names (see Control).
func (c *Connector) PlanTarget(ctx context.Context, target string, limit int) (Plan, error) {
	targets, err := c.Targets(target)
	if err != nil {
		return Plan{}, err
	}
	return c.Plan(ctx, limit, targets...)
}

// Sync runs SyncOnce and waits until the work it queued is delivered
// (WaitIdle). A failed run still waits for the others' work; its error is
// returned.
func (c *Connector) Sync(ctx context.Context) (RunResult, error) {
	syncErr := c.SyncOnce(ctx)
	if err := c.WaitIdle(ctx); err != nil {
		return RunResult{}, errors.Join(syncErr, err)
	}
	return RunResult{Delivered: true}, syncErr
}

// resyncTick is how often ResyncTarget reports progress.
const resyncTick = 200 * time.Millisecond

// ResyncTarget runs Resync on the platforms target names and waits until
// its work is delivered, telling progress how far it is meanwhile.
func (c *Connector) ResyncTarget(ctx context.Context, target string, progress func(ResyncStatus)) (RunResult, error) {
	targets, err := c.Targets(target)
	if err != nil {
		return RunResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Resync(ctx, targets...)
		if err == nil {
			err = c.WaitIdle(ctx)
		}
		done <- err
	}()
	tick := time.NewTicker(resyncTick)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return RunResult{}, err
			}
			return RunResult{Delivered: true}, nil
		case <-tick.C:
			if progress == nil {
				continue
			}
			m, err := c.ResyncProgress(ctx)
			if err != nil {
				continue
			}
			st, _ := c.Status(ctx)
			progress(ResyncStatus{Progress: m.Progress(), RecordsDone: m.RecordsDone, RecordsTotal: m.Plan.TotalRecords,
				Platform: ResyncPlatform(m.Name), Queued: st.Queue.Counts.Total()})
		}
	}
}

// DeadLetters lists dead letters without their payloads.
func (c *Connector) DeadLetters(ctx context.Context, f queue.DeadFilter) (DeadLetterPage, error) {
	jobs, next, err := c.store.DeadLetters(ctx, f)
	if err != nil {
		return DeadLetterPage{}, err
	}
	out := DeadLetterPage{DeadLetters: make([]DeadLetter, 0, len(jobs)), Next: next}
	for _, j := range jobs {
		out.DeadLetters = append(out.DeadLetters, deadLetter(j, false))
	}
	return out, nil
}

// DeadLetter returns one dead letter with its payload (DeadLetterOf).
func (c *Connector) DeadLetter(ctx context.Context, id uint64) (DeadLetter, error) {
	j, err := c.store.DeadLetter(ctx, id)
	if err != nil {
		return DeadLetter{}, err
	}
	return DeadLetterOf(j), nil
}

// ReplayDeadLetters puts dead letters back in the queue, and logs it (the
// admin API's and the status page's replay): the replayed records count
// for a new "replay" record of the run history until their outcome is final.
func (c *Connector) ReplayDeadLetters(ctx context.Context, f queue.DeadFilter) (queue.ReplayResult, error) {
	keys, err := c.deadKeys(ctx, f)
	if err != nil {
		return queue.ReplayResult{}, err
	}
	res, err := c.store.Replay(ctx, f)
	if err != nil {
		return res, fmt.Errorf("connector: replay: %w", err)
	}
	if res.Replayed+res.Superseded > 0 {
		c.markReplayed(keys)
	}
	c.log.Info("dead letters replayed", "replayed", res.Replayed, "superseded", res.Superseded)
	return res, nil
}

// PurgeDeadLetters deletes dead letters for good, and logs it.
func (c *Connector) PurgeDeadLetters(ctx context.Context, f queue.DeadFilter) (int, error) {
	n, err := c.store.Purge(ctx, f)
	if err != nil {
		return n, err
	}
	c.log.Warn("dead letters purged", "purged", n)
	return n, nil
}

// Cursors returns every cursor of CursorNames ("" when unset).
func (c *Connector) Cursors(ctx context.Context) (map[string]string, error) {
	out := make(map[string]string, len(CursorNames))
	for _, name := range CursorNames {
		v, err := c.Cursor(ctx, name)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// CheckState checks the state file while the connector works
// (queue.Store.Check); a failed check is logged.
func (c *Connector) CheckState(ctx context.Context) (queue.CheckReport, error) {
	rep, err := c.store.Check(ctx)
	if err != nil {
		c.log.Error("state file check failed", "err", err)
	}
	return rep, err
}

// BackupState writes a consistent copy of the state file to w while the
// connector works (queue.Store.Backup).
func (c *Connector) BackupState(ctx context.Context, w io.Writer) error {
	if _, err := c.store.Backup(ctx, w, nil); err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	return nil
}
