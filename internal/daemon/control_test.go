package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/adminclient"
	"github.com/erpconnector/erpconnector/queue"
)

// controls are the two implementations of connector.Control over one
// connector: the connector itself, and the admin API client talking to
// that connector's admin API over HTTP.
type controls struct {
	t    *testing.T
	conn *connector.Connector
	api  *adminclient.Client
}

// same runs fn on both and wants the same answer (as JSON) and no error.
func (c controls) same(what string, fn func(ctl connector.Control) (any, error)) {
	c.t.Helper()
	var answers [2][]byte
	for i, ctl := range []connector.Control{c.conn, c.api} {
		v, err := fn(ctl)
		if err != nil {
			c.t.Fatalf("%s through %T: %v", what, ctl, err)
		}
		if answers[i], err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if !bytes.Equal(answers[0], answers[1]) {
		c.t.Fatalf("%s: the connector answers\n%s\nthe admin API\n%s", what, answers[0], answers[1])
	}
}

// fails runs fn on both and wants an error that is target from each.
func (c controls) fails(what string, target error, fn func(ctl connector.Control) error) {
	c.t.Helper()
	for _, ctl := range []connector.Control{c.conn, c.api} {
		if err := fn(ctl); !errors.Is(err, target) {
			c.t.Errorf("%s through %T: %v, want %v", what, ctl, err, target)
		}
	}
}

// TestControlsAnswerAlike runs the operator's calls on a connector and on
// the admin API client of that connector's admin API (real HTTP, the
// connector's real state file) and wants the same answers, and a change
// made through one seen through the other.
func TestControlsAnswerAlike(t *testing.T) {
	path := demoConfig(t)
	bg := context.Background()
	log := slog.New(slog.DiscardHandler)
	// A sync in this process fills the state: bindings, refusals, dead letters.
	first := NewLocal(load(t, path), log, "test")
	if run, err := first.Sync(bg); err != nil || !run.Delivered {
		t.Fatalf("sync: %+v %v", run, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	f := load(t, path)
	refs, err := StartReferences(f, log)
	if err != nil {
		t.Fatal(err)
	}
	defer refs.Close(bg)
	local := NewLocal(f, log, "test")
	defer local.Close()
	conn, err := local.Connector(bg)
	if err != nil {
		t.Fatal(err)
	}
	const token = "control-t0ken"
	srv := httptest.NewServer(conn.AdminHandler(connector.AdminOptions{Token: token}))
	defer srv.Close()
	c := controls{t: t, conn: conn, api: adminclient.New(srv.URL, token)}

	readsAlike(t, c)
	changesSeenAlike(t, c)

	// A wrong token is refused, and named in no error.
	_, err = adminclient.New(srv.URL, "wr0ng-t0ken").Status(bg)
	var ae *adminclient.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || strings.Contains(err.Error(), "wr0ng-t0ken") {
		t.Fatalf("status with a wrong token: %v", err)
	}
}

// readsAlike compares what the two read.
func readsAlike(t *testing.T, c controls) {
	bg := context.Background()
	c.same("status", func(ctl connector.Control) (any, error) { return ctl.Status(bg) })
	c.same("trace", func(ctl connector.Control) (any, error) { return ctl.Trace(bg, "C0000005") })
	c.fails("trace of an unknown key", connector.ErrNoRecord, func(ctl connector.Control) error {
		_, err := ctl.Trace(bg, "NO-SUCH-KEY")
		return err
	})
	c.same("dlq list", func(ctl connector.Control) (any, error) { return ctl.DeadLetters(bg, queue.DeadFilter{Limit: 100}) })
	c.same("dlq list of a type, paged", func(ctl connector.Control) (any, error) {
		return ctl.DeadLetters(bg, queue.DeadFilter{Type: "one.push", Limit: 1})
	})
	page, err := c.conn.DeadLetters(bg, queue.DeadFilter{})
	if err != nil || len(page.DeadLetters) == 0 {
		t.Fatalf("no dead letters after the sync: %+v %v", page, err)
	}
	c.same("dlq show", func(ctl connector.Control) (any, error) { return ctl.DeadLetter(bg, page.DeadLetters[0].ID) })
	c.fails("dlq show of no dead letter", queue.ErrNotFound, func(ctl connector.Control) error {
		_, err := ctl.DeadLetter(bg, 999999)
		return err
	})
	c.same("cursors", func(ctl connector.Control) (any, error) { return ctl.Cursors(bg) })
	c.same("plan", func(ctl connector.Control) (any, error) { return ctl.PlanTarget(bg, "all", 50) })
	c.fails("plan of no platform", connector.ErrTarget, func(ctl connector.Control) error {
		_, err := ctl.PlanTarget(bg, "nowhere", 50)
		return err
	})
	c.fails("resync of no platform", connector.ErrTarget, func(ctl connector.Control) error {
		_, err := ctl.ResyncTarget(bg, "nowhere", nil)
		return err
	})
	c.same("state check", func(ctl connector.Control) (any, error) { return ctl.CheckState(bg) })
	c.same("state backup", func(ctl connector.Control) (any, error) {
		var b bytes.Buffer
		err := ctl.BackupState(bg, &b)
		return b.Bytes(), err
	})
}

// changesSeenAlike makes changes through one and reads them through the
// other.
func changesSeenAlike(t *testing.T, c controls) {
	bg := context.Background()
	for _, paused := range []bool{true, false} {
		for _, by := range []connector.Control{c.api, c.conn} {
			if err := by.SetPaused(bg, paused); err != nil {
				t.Fatal(err)
			}
			c.same("status after a pause or a resume", func(ctl connector.Control) (any, error) {
				st, err := ctl.Status(bg)
				if err == nil && st.Paused != paused {
					t.Errorf("paused %v through %T, want %v", st.Paused, ctl, paused)
				}
				return st, err
			})
		}
	}
	for value, by := range map[string]connector.Control{"77": c.api, "78": c.conn} {
		if err := by.SetCursor(bg, "one.feed", value); err != nil {
			t.Fatal(err)
		}
		c.same("cursors after a cursor set", func(ctl connector.Control) (any, error) {
			all, err := ctl.Cursors(bg)
			if err == nil && all["one.feed"] != value {
				t.Errorf("one.feed %q through %T, want %q", all["one.feed"], ctl, value)
			}
			return all, err
		})
	}
	for _, ctl := range []connector.Control{c.conn, c.api} {
		if err := ctl.SetCursor(bg, "one.feed", "abc"); err == nil {
			t.Errorf("a malformed cursor through %T: no error", ctl)
		}
		if err := ctl.SetCursor(bg, "nope", "1"); err == nil {
			t.Errorf("an unknown cursor through %T: no error", ctl)
		}
	}

	page, err := c.conn.DeadLetters(bg, queue.DeadFilter{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.api.ReplayDeadLetters(bg, queue.DeadFilter{IDs: []uint64{page.DeadLetters[0].ID}})
	if err != nil || res.Replayed+res.Superseded+res.Rejected != 1 {
		t.Fatalf("replay through the admin API: %+v %v", res, err)
	}
	n, err := c.conn.PurgeDeadLetters(bg, queue.DeadFilter{})
	if err != nil || n != len(page.DeadLetters)-1+res.Rejected {
		t.Fatalf("purge: %d %v (of %d dead letters)", n, err, len(page.DeadLetters))
	}
	c.same("dlq list after replay and purge", func(ctl connector.Control) (any, error) {
		p, err := ctl.DeadLetters(bg, queue.DeadFilter{})
		if err == nil && len(p.DeadLetters) != 0 {
			t.Errorf("dead letters left through %T: %+v", ctl, p.DeadLetters)
		}
		return p, err
	})
	c.same("status after replay and purge", func(ctl connector.Control) (any, error) {
		st, err := ctl.Status(bg)
		st.Queue.OldestReady = 0 // the age of the replayed job, read at two moments
		return st, err
	})
}
