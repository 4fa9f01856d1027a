package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The per-record trail: what the connector knows of one ERP customer on
// each platform (binding, ids, hashes and their times, a short history of
// outcomes, dead letters, queued jobs, a pending write-back), read from its
// own state only, so it answers while the ERP and the platforms are down.

// ErrNoRecord is returned by Trace for an ERP key the state knows nothing of.
var ErrNoRecord = errors.New("no record")

// platformPrefixes name each platform's jobs ("one:push:<erp key>"); the
// sites use the same.
var platformPrefixes = map[mapping.Platform]string{mapping.PlatformONe: "one", mapping.PlatformCustomerAPI: "capi"}

// allPlatforms are the platforms a trace looks at, in a fixed order.
var allPlatforms = []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI}

// Trace is the trail of one ERP customer.
type Trace struct {
	ERPKey    string          `json:"erp_key"`
	Platforms []PlatformTrace `json:"platforms"`
}

// PlatformTrace is what the connector knows of an ERP customer on one platform.
type PlatformTrace struct {
	Platform mapping.Platform `json:"platform"`
	// Configured reports whether the platform is configured (false: only
	// its leftovers in the state file are shown).
	Configured bool `json:"configured"`
	Bound      bool `json:"bound"`
	// PlatformID is the bound record's id; ExtraIDs its secondary ids (the
	// ONe billing address id, the Customer API farm business unit id).
	PlatformID string            `json:"platform_id,omitempty"`
	ExtraIDs   map[string]string `json:"extra_ids,omitempty"`
	// Version is the binding's version (the resync watermark).
	Version    uint64    `json:"version,omitempty"`
	PushedHash string    `json:"pushed_hash,omitempty"`
	PushedAt   time.Time `json:"pushed_at,omitzero"`
	SeenHash   string    `json:"seen_hash,omitempty"`
	SeenAt     time.Time `json:"seen_at,omitzero"`
	// BindingUpdated is when the binding last changed.
	BindingUpdated time.Time `json:"binding_updated,omitzero"`
	// UnboundID is the platform id unbound on purpose from this customer
	// (the ERP unflagged or deleted it): flagged again, it gets it back.
	UnboundID string `json:"unbound_id,omitempty"`
	// WriteBack is the platform id waiting to be written to the ERP.
	WriteBack string `json:"write_back_pending,omitempty"`
	// History is the recent outcomes, oldest first.
	History []state.Event `json:"history,omitempty"`
	// DeadLetters are the customer's dead letters, with their history.
	DeadLetters []DeadLetter `json:"dead_letters,omitempty"`
	// Queued are its jobs waiting or in flight (a chunk job that carries
	// it among other new customers included).
	Queued []QueuedJob `json:"queued,omitempty"`
}

// QueuedJob is a job waiting or in flight, without its payload.
type QueuedJob struct {
	ID          uint64    `json:"id"`
	Type        string    `json:"type"`
	Key         string    `json:"key"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// empty reports whether the state holds nothing of the customer here.
func (p PlatformTrace) empty() bool {
	return !p.Bound && p.UnboundID == "" && p.WriteBack == "" && len(p.History) == 0 &&
		len(p.DeadLetters) == 0 && len(p.Queued) == 0
}

// Trace returns the trail of an ERP customer (ErrNoRecord when the state
// holds nothing of it).
func (c *Connector) Trace(ctx context.Context, erpKey string) (Trace, error) {
	configured := make([]mapping.Platform, 0, len(c.sites))
	for _, s := range c.sites {
		configured = append(configured, s.name)
	}
	return readTrace(ctx, c.state, erpKey, configured)
}

// TraceFile reads the trail of an ERP customer from a state file no
// daemon holds (waiting up to lockTimeout for one that does), without
// the ERP or the platforms. configured are the configured platforms. A
// missing file holds no record.
func TraceFile(ctx context.Context, path, erpKey string, configured []mapping.Platform, lockTimeout time.Duration) (Trace, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return Trace{}, fmt.Errorf("%w of %s (state file %s does not exist)", ErrNoRecord, erpKey, path)
	}
	q, err := queue.Open(path, queue.Options{LockTimeout: lockTimeout})
	if err != nil {
		return Trace{}, fmt.Errorf("connector: trace: %w", err)
	}
	defer q.Close()
	st, err := state.Open(ctx, q, nil)
	if err != nil {
		return Trace{}, fmt.Errorf("connector: trace: %w", err)
	}
	return readTrace(ctx, st, erpKey, configured)
}

// readTrace reads the trail of erpKey in one read transaction.
func readTrace(ctx context.Context, st *state.Store, erpKey string, configured []mapping.Platform) (Trace, error) {
	tr := Trace{ERPKey: erpKey, Platforms: []PlatformTrace{}}
	err := st.View(ctx, func(tx *state.Tx) error {
		for _, p := range allPlatforms {
			pt, err := tracePlatform(tx, p, erpKey)
			if err != nil {
				return err
			}
			for _, cp := range configured {
				pt.Configured = pt.Configured || cp == p
			}
			if pt.Configured || !pt.empty() {
				tr.Platforms = append(tr.Platforms, pt)
			}
		}
		return nil
	})
	if err != nil {
		return Trace{}, fmt.Errorf("connector: trace %s: %w", erpKey, err)
	}
	for _, p := range tr.Platforms {
		if !p.empty() {
			return tr, nil
		}
	}
	return tr, fmt.Errorf("%w of %s", ErrNoRecord, erpKey)
}

// tracePlatform reads what the state holds of erpKey on one platform.
func tracePlatform(tx *state.Tx, p mapping.Platform, erpKey string) (PlatformTrace, error) {
	pt := PlatformTrace{Platform: p}
	b, bound, err := tx.Binding(p, erpKey)
	if err != nil {
		return pt, err
	}
	if bound {
		pt.Bound, pt.PlatformID, pt.ExtraIDs, pt.Version = true, b.ID, b.Extra, b.Version
		pt.PushedHash, pt.PushedAt, pt.SeenHash, pt.SeenAt, pt.BindingUpdated = b.PushedHash, b.PushedAt, b.SeenHash, b.SeenAt, b.Updated
	}
	pt.UnboundID, _ = tx.TombstoneOf(p, erpKey)
	pt.WriteBack, _ = tx.WriteBackOf(p, erpKey)
	if pt.History, err = tx.History(p, erpKey); err != nil {
		return pt, err
	}
	prefix := platformPrefixes[p]
	keys := []string{prefix + ":push:" + erpKey, prefix + ":cert:" + erpKey}
	if chunk := tx.ChunkOf(keys[0]); chunk != "" {
		keys = append(keys, chunk) // queued as a member of a chunk job
	}
	for _, id := range []string{pt.PlatformID, pt.UnboundID} {
		if id != "" {
			keys = append(keys, prefix+":pull:"+id)
		}
	}
	for _, k := range keys {
		jobs, dead, err := tx.KeyJobs(k)
		if err != nil {
			return pt, err
		}
		for _, j := range jobs {
			pt.Queued = append(pt.Queued, QueuedJob{ID: j.ID, Type: j.Type, Key: j.Key, State: j.State.String(),
				Attempts: j.Attempts, NextAttempt: j.NextAttempt, LastError: j.LastError})
		}
		if dead != nil {
			pt.DeadLetters = append(pt.DeadLetters, deadLetter(*dead, false))
		}
	}
	return pt, nil
}

// adminTrace serves GET /api/v1/trace/{key}.
func (c *Connector) adminTrace(mux *http.ServeMux, auth authed) {
	mux.Handle("GET /api/v1/trace/{key}", auth(func(w http.ResponseWriter, r *http.Request) {
		tr, err := c.Trace(r.Context(), r.PathValue("key"))
		switch {
		case errors.Is(err, ErrNoRecord):
			writeError(w, http.StatusNotFound, err)
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, tr)
		}
	}))
}

// trail records an outcome in the history of an ERP key on a site's
// platform; in a delivery it commits with the job's settlement.
func (c *Connector) trail(ctx context.Context, s *site, key string, e state.Event) error {
	if key == "" {
		return nil
	}
	return c.state.Defer(ctx, func(tx *state.Tx) error { return tx.AddEvent(s.name, key, e) })
}

// refused records a push the platform or the connector's checks refused for
// good (the job goes to the dead letters) in the key's history, and
// returns err.
func (c *Connector) refused(ctx context.Context, s *site, key string, err error) error {
	if err == nil || apierr.Classify(err) != apierr.Permanent {
		return err
	}
	if terr := c.trail(ctx, s, key, state.Event{Outcome: "refused", Reason: err.Error()}); terr != nil {
		return errors.Join(err, terr)
	}
	return err
}
