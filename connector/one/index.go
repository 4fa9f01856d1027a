package one

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/oneapi"
)

// ONe has no lookup by external id: finding the client an earlier attempt
// may have created (after a crash, a dropped connection or a 409) means
// listing every client. After a restart many such lookups come at once, so
// one listing serves them all: the index maps external ids to clients, is
// rebuilt only when a lookup needs a listing younger than the index, and is
// dropped when nobody has used it for a while (it is only needed to recover).
type index struct {
	mu      sync.Mutex
	started time.Time            // when the listing behind byExt began
	byExt   map[string]clientRef // external id → client
	timer   *time.Timer          // drops the index when idle
}

// clientRef is what adopting a client needs.
type clientRef struct {
	ID, AddressID string
}

func (r clientRef) ref() *platform.Ref {
	return &platform.Ref{ID: r.ID, Extra: map[string]string{ExtraAddressID: r.AddressID}}
}

// indexIdle is how long an unused index is kept.
const indexIdle = 2 * time.Minute

// findONeByExternalID returns the client holding externalID, or nil. A
// client found in the index is current enough (it existed when the listing
// ran); not finding one is only trusted from a listing that began after
// notBefore, else the index is rebuilt first.
func (p *Platform) findByExternalID(ctx context.Context, externalID string, notBefore time.Time) (*platform.Ref, error) {
	x := &p.idx
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byExt != nil {
		if r, ok := x.byExt[externalID]; ok {
			x.touch()
			return r.ref(), nil
		}
		if x.started.After(notBefore) {
			x.touch()
			return nil, nil
		}
	}
	// Held while listing: concurrent lookups wait for this listing.
	started := time.Now()
	byExt := map[string]clientRef{}
	for number := 1; number > 0; {
		pg, err := p.listPage(ctx, number)
		if err != nil {
			return nil, fmt.Errorf("connector: look up ONe client %q: %w", externalID, err)
		}
		for _, cl := range pg.Items {
			if cl.ExternalID != "" {
				byExt[cl.ExternalID] = clientRef{ID: cl.ID, AddressID: cl.BillingAddress.ID}
			}
		}
		number = 0
		if pg.NextPage != nil && len(pg.Items) > 0 {
			number = int(*pg.NextPage)
		}
	}
	x.started, x.byExt = started, byExt
	p.log.Info("listed ONe clients to look up external ids", "clients", len(byExt), "took", time.Since(started))
	x.touch()
	if r, ok := byExt[externalID]; ok {
		return r.ref(), nil
	}
	return nil, nil
}

// touch restarts the idle timer (x.mu held).
func (x *index) touch() {
	if x.timer != nil {
		x.timer.Reset(indexIdle)
		return
	}
	x.timer = time.AfterFunc(indexIdle, func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.byExt, x.timer = nil, nil
	})
}

// listPageAttempts is how often one listing page is tried: reading a page
// again is harmless, and one bad page must not cost the whole listing.
const listPageAttempts = 3

// listPage reads one page of ONe's clients, again after a retryable failure
// (the pool's gate still spaces the requests and honours Retry-After).
func (p *Platform) listPage(ctx context.Context, number int) (*oneapi.Page[oneapi.Client], error) {
	for attempt := 1; ; attempt++ {
		pg, err := p.api.ListClients(ctx, number, p.opts.PageSize)
		if err == nil || attempt == listPageAttempts || apierr.Classify(err) != apierr.Retryable {
			return pg, err
		}
		p.log.Debug("listing page failed; reading it again", "page", number, "attempt", attempt, "err", err)
		t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
