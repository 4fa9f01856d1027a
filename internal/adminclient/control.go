package adminclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

var _ connector.Control = (*Client)(nil)

// resyncPoll is how often ResyncTarget asks how far the resync is.
const resyncPoll = 300 * time.Millisecond

// Status is GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (connector.Status, error) {
	var st connector.Status
	err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st)
	return st, err
}

// Trace is GET /api/v1/trace/{key}; a 404 is connector.ErrNoRecord.
func (c *Client) Trace(ctx context.Context, erpKey string) (connector.Trace, error) {
	var tr connector.Trace
	err := c.do(ctx, http.MethodGet, "/api/v1/trace/"+url.PathEscape(erpKey), nil, &tr)
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return tr, fmt.Errorf("%w of %s", connector.ErrNoRecord, erpKey)
	}
	return tr, err
}

// PlanTarget is GET /api/v1/plan; a 400 is connector.ErrTarget.
func (c *Client) PlanTarget(ctx context.Context, target string, limit int) (connector.Plan, error) {
	var plan connector.Plan
	q := url.Values{"limit": {strconv.Itoa(limit)}, "platform": {target}}
	err := c.do(ctx, http.MethodGet, "/api/v1/plan?"+q.Encode(), nil, &plan)
	return plan, as(err, http.StatusBadRequest, connector.ErrTarget)
}

// Sync is POST /api/v1/sync: the daemon starts the runs and its workers
// deliver their work. A 409 is connector.ErrPaused.
func (c *Client) Sync(ctx context.Context) (connector.RunResult, error) {
	err := c.do(ctx, http.MethodPost, "/api/v1/sync", nil, nil)
	return connector.RunResult{}, as(err, http.StatusConflict, connector.ErrPaused)
}

// ResyncTarget is POST /api/v1/resync, then GET /api/v1/resync (and the
// queue of GET /api/v1/status for progress) until the resync has queued its
// work; the daemon's workers deliver it. A 400 is connector.ErrTarget.
func (c *Client) ResyncTarget(ctx context.Context, target string, progress func(connector.ResyncStatus)) (connector.RunResult, error) {
	err := c.do(ctx, http.MethodPost, "/api/v1/resync?"+url.Values{"target": {target}}.Encode(), nil, nil)
	if err != nil {
		return connector.RunResult{}, as(err, http.StatusBadRequest, connector.ErrTarget)
	}
	for {
		var r struct {
			Done      bool            `json:"done"`
			Progress  float64         `json:"progress"`
			Migration queue.Migration `json:"migration"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/resync", nil, &r); err != nil {
			return connector.RunResult{}, err
		}
		if progress != nil {
			rs := connector.ResyncStatus{Progress: r.Progress, RecordsDone: r.Migration.RecordsDone,
				RecordsTotal: r.Migration.Plan.TotalRecords, Platform: connector.ResyncPlatform(r.Migration.Name)}
			if st, err := c.Status(ctx); err == nil {
				rs.Queued = st.Queue.Counts.Total()
			}
			progress(rs)
		}
		if r.Done {
			return connector.RunResult{}, nil
		}
		select {
		case <-ctx.Done():
			return connector.RunResult{}, ctx.Err()
		case <-time.After(resyncPoll):
		}
	}
}

// SetPaused is POST /api/v1/pause or /api/v1/resume.
func (c *Client) SetPaused(ctx context.Context, paused bool) error {
	path := "/api/v1/resume"
	if paused {
		path = "/api/v1/pause"
	}
	return c.do(ctx, http.MethodPost, path, nil, nil)
}

// DeadLetters is GET /api/v1/dlq.
func (c *Client) DeadLetters(ctx context.Context, f queue.DeadFilter) (connector.DeadLetterPage, error) {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.AfterID != 0 {
		q.Set("after", strconv.FormatUint(f.AfterID, 10))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page connector.DeadLetterPage
	path := "/api/v1/dlq"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &page)
	return page, err
}

// DeadLetter is GET /api/v1/dlq/{id}; a 404 is queue.ErrNotFound.
func (c *Client) DeadLetter(ctx context.Context, id uint64) (connector.DeadLetter, error) {
	var d connector.DeadLetter
	err := c.do(ctx, http.MethodGet, "/api/v1/dlq/"+strconv.FormatUint(id, 10), nil, &d)
	return d, as(err, http.StatusNotFound, queue.ErrNotFound)
}

// deadFilter is the body of the replay and purge routes.
type deadFilter struct {
	IDs  []uint64 `json:"ids"`
	Type string   `json:"type"`
}

// ReplayDeadLetters is POST /api/v1/dlq/replay.
func (c *Client) ReplayDeadLetters(ctx context.Context, f queue.DeadFilter) (queue.ReplayResult, error) {
	var res queue.ReplayResult
	err := c.do(ctx, http.MethodPost, "/api/v1/dlq/replay", deadFilter{IDs: f.IDs, Type: f.Type}, &res)
	return res, err
}

// PurgeDeadLetters is POST /api/v1/dlq/purge.
func (c *Client) PurgeDeadLetters(ctx context.Context, f queue.DeadFilter) (int, error) {
	var res struct {
		Purged int `json:"purged"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/dlq/purge", deadFilter{IDs: f.IDs, Type: f.Type}, &res)
	return res.Purged, err
}

// Cursors is GET /api/v1/cursors.
func (c *Client) Cursors(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := c.do(ctx, http.MethodGet, "/api/v1/cursors", nil, &out)
	return out, err
}

// SetCursor is PUT /api/v1/cursors/{name}.
func (c *Client) SetCursor(ctx context.Context, name, value string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/cursors/"+url.PathEscape(name), map[string]string{"value": value}, nil)
}

// CheckState is GET /api/v1/state/check: the daemon checks its state file
// as of now, while it works.
func (c *Client) CheckState(ctx context.Context) (queue.CheckReport, error) {
	var res connector.StateCheck
	if err := c.do(ctx, http.MethodGet, "/api/v1/state/check", nil, &res); err != nil {
		return res.Report, err
	}
	if !res.OK {
		return res.Report, errors.New(res.Error)
	}
	return res.Report, nil
}

// BackupState is GET /api/v1/state/backup, streamed into w.
func (c *Client) BackupState(ctx context.Context, w io.Writer) error {
	return c.download(ctx, "/api/v1/state/backup", w)
}
