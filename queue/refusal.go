package queue

import (
	"errors"
	"fmt"
	"time"
)

// Refusal describes an upstream paused because the platform refuses the
// connector's credentials (a wrong or rotated API key or password, an
// unknown tenant). Jobs stay queued; every Probe one job tries again; a
// request the platform accepts (or a reload, which starts a new pool)
// ends it.
type Refusal struct {
	// Reason is the platform's answer, as the client reported it.
	Reason string
	// Since is when the platform first refused.
	Since time.Time
	// Probe is when the next attempt may go.
	Probe time.Time
}

// pausedError is a request that did not go because the upstream is paused
// by a refusal: it says nothing new about the credentials.
type pausedError struct {
	upstream string
	r        Refusal
}

func (e *pausedError) Error() string {
	return fmt.Sprintf("queue: %s paused since %s: the platform refuses the credentials (%s)",
		e.upstream, e.r.Since.Format(time.RFC3339), e.r.Reason)
}

// Refuse pauses the upstream because the platform refused the credentials
// (err says how). The first refusal is logged as an error; repeats while
// paused are not. A request that did not go because of the pause changes
// nothing: the reason stays the platform's own answer (not wrapped again
// at each try) and the next probe is not put off.
func (p *Pool) Refuse(err error) {
	if _, ok := errors.AsType[*pausedError](err); ok && p.refusal.Load() != nil {
		return
	}
	now := time.Now()
	for {
		old := p.refusal.Load()
		r := &Refusal{Reason: err.Error(), Since: now, Probe: now.Add(p.opts.CredentialsProbe)}
		if old != nil {
			r.Since = old.Since
		}
		if !p.refusal.CompareAndSwap(old, r) {
			continue
		}
		p.m.refused.Set(1)
		if old == nil {
			p.log.Error("the platform refuses the connector's credentials; the upstream is paused and its jobs wait "+
				"(fix the credentials and reload the configuration)", "err", err, "probe_every", p.opts.CredentialsProbe)
		} else {
			p.log.Debug("credentials still refused", "err", err)
		}
		return
	}
}

// accepted ends a refusal: the platform answered a request with success.
func (p *Pool) accepted() {
	if old := p.refusal.Load(); old != nil && p.refusal.CompareAndSwap(old, nil) {
		p.m.refused.Set(0)
		p.log.Info("the platform accepts the credentials again; the upstream resumes", "paused_since", old.Since)
		p.store.notify()
	}
}

// Refused returns the current refusal, nil while the credentials work.
func (p *Pool) Refused() *Refusal { return p.refusal.Load() }
