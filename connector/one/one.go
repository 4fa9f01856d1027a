// Package one is the ONe platform of the sync engine: ERP customers become
// ONe clients (a client body and its finance data), ONe's client feed tells
// the engine what changed, and clients registered in the storefront become
// new ERP customers. It knows the ONe API and the mapping, nothing of the
// queue or the state file.
package one

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// Interface guards.
var (
	_ platform.Platform = (*Platform)(nil)
	_ platform.Feed     = (*Platform)(nil)
	_ platform.Importer = (*Platform)(nil)
)

// ExtraAddressID is the Ref.Extra key of the client's billing address id.
const ExtraAddressID = "addressId"

// Digest parts.
const (
	partClient  = 0 // the client body (create, full update)
	partFinance = 1 // the finance data
)

// Options configure the platform.
type Options struct {
	// Terms are the ownership and the fields the ERP holds.
	Terms mapping.Terms
	// PageSize is the page size of listings.
	PageSize int
	// Contexts are the feed contexts followed.
	Contexts []oneapi.Context
	// Logger receives the platform's logs.
	Logger *slog.Logger
}

// Platform is ONe.
type Platform struct {
	api   *oneapi.API
	opts  Options
	log   *slog.Logger
	idx   index
	fills *fills
}

// New returns the ONe platform over api.
func New(api *oneapi.API, opts Options) *Platform {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 200
	}
	return &Platform{api: api, opts: opts, log: log, fills: newFills()}
}

// Name implements platform.Platform.
func (p *Platform) Name() mapping.Platform { return mapping.PlatformONe }

// Wants implements platform.Platform.
func (p *Platform) Wants(c mapping.Customer) bool { return c.Flags.ONe }

// Carrier implements platform.Platform.
func (p *Platform) Carrier() *mapping.Carrier { return mapping.ONeCarrier }

// Identity implements platform.Platform: ONe holds external ids unique.
func (p *Platform) Identity(c mapping.Customer) string { return c.ERPKey }

// Digest implements platform.Platform.
func (p *Platform) Digest(c mapping.Customer) (mapping.Digest, error) { return mapping.DigestONe(c) }

// Prepare implements platform.Platform.
func (p *Platform) Prepare(c mapping.Customer) (mapping.Digest, error) {
	if err := mapping.ValidateONe(c); err != nil {
		return "", err
	}
	return mapping.DigestONe(c)
}

// Create implements platform.Platform: the client, then the finance data
// (trade credit cannot be set on create).
func (p *Platform) Create(ctx context.Context, c mapping.Customer, want mapping.Digest) (platform.Written, error) {
	body := mapping.ToONeWrite(c)
	resp, err := p.api.CreateClient(ctx, body)
	if err != nil {
		return platform.Written{}, err
	}
	ref := platform.Ref{ID: resp.ClientID, Extra: map[string]string{ExtraAddressID: resp.AddressID}}
	out := platform.Written{Ref: ref, Have: mapping.Digest("").With(want, partClient)}
	var fin *oneapi.FinanceData
	if f := mapping.ToONeFinance(c); f != (oneapi.FinanceData{}) {
		if err := p.api.UpdateFinanceData(ctx, ref.ID, f); err != nil {
			return out, err
		}
		fin = &f
	}
	out.Have, out.Seen = want, p.seenOfNew(ctx, ref, body, fin)
	return out, nil
}

// Update implements platform.Platform: the full PUT when the client body
// changed (carrying over what the ERP does not hold or own, from cur or
// from a read: a full PUT may replace the whole client), the finance data
// when it changed (its own write, which touches nothing else: no read).
func (p *Platform) Update(ctx context.Context, ref platform.Ref, c mapping.Customer, want, have mapping.Digest, cur *platform.Record) (platform.Written, error) {
	changed := want.Changed(have)
	out := platform.Written{Ref: ref, Have: have}
	var body *oneapi.ClientWrite
	if changed[partClient] {
		if cur == nil && mapping.ONeCarrier.CarriesOver(p.opts.Terms) {
			rec, err := p.Fetch(ctx, ref)
			if err != nil {
				return out, err
			}
			cur, out.Read = &rec, &rec
		}
		sent := c
		if cur != nil {
			sent = mapping.ONeCarrier.Overlay(c, cur.Customer, cur.Partial, p.opts.Terms)
			out.Ref = cur.Ref
		}
		w := mapping.ToONeWrite(sent)
		if err := p.api.UpdateClient(ctx, out.Ref.ID, w); err != nil {
			return out, gone(err, out.Ref.ID)
		}
		out.Have, body = out.Have.With(want, partClient), &w
	}
	var fin *oneapi.FinanceData
	if changed[partFinance] {
		f := mapping.ToONeFinance(c)
		if err := p.api.UpdateFinanceData(ctx, out.Ref.ID, f); err != nil {
			return out, gone(err, out.Ref.ID)
		}
		fin = &f
	}
	out.Have, out.Seen = want, p.seenAfter(out.Ref, body, fin, cur)
	return out, nil
}

// gone turns a 404 into platform.ErrGone.
func gone(err error, id string) error {
	if apierr.IsNotFound(err) {
		return platform.Gone("ONe client " + id)
	}
	return err
}

// Find implements platform.Platform: the client holding c's ERP key as
// external id, from one listing shared by every lookup (ONe has no lookup
// by external id).
func (p *Platform) Find(ctx context.Context, c mapping.Customer, notBefore time.Time, taken func(id string) bool) (*platform.Ref, error) {
	r, err := p.findByExternalID(ctx, c.ERPKey, notBefore)
	if err != nil || r == nil || taken(r.ID) {
		return nil, err
	}
	return r, nil
}

// Remove implements platform.Platform (PolicyDelete only).
func (p *Platform) Remove(ctx context.Context, ref platform.Ref, policy platform.Policy) error {
	if policy != platform.PolicyDelete {
		return apierr.Permanently(fmt.Errorf("one: unflag policy %q is not one of ONe's", policy))
	}
	if err := p.api.DeleteClient(ctx, ref.ID); err != nil && !apierr.IsNotFound(err) {
		return err
	}
	return nil
}

// Fetch implements platform.Platform.
func (p *Platform) Fetch(ctx context.Context, ref platform.Ref) (platform.Record, error) {
	cl, err := p.api.GetClient(ctx, ref.ID)
	if err != nil {
		return platform.Record{}, gone(err, ref.ID)
	}
	return record(*cl)
}

// record is a client as the engine takes it in.
func record(cl oneapi.Client) (platform.Record, error) {
	c := mapping.FromONe(cl)
	c.Normalize()
	seen, err := mapping.ContentHash(c)
	if err != nil {
		return platform.Record{}, err
	}
	return platform.Record{Ref: platform.Ref{ID: cl.ID, Extra: map[string]string{ExtraAddressID: cl.BillingAddress.ID}},
		Customer: c, Seen: seen, Raw: cl}, nil
}

// List implements platform.Platform: one page of clients; the cursor is
// the page number.
func (p *Platform) List(ctx context.Context, cursor string, _ func(string) (platform.Ref, bool)) (platform.Page, error) {
	number := 1
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 1 {
			return platform.Page{}, fmt.Errorf("one: listing cursor %q: want a page number", cursor)
		}
		number = n
	}
	pg, err := p.listPage(ctx, number)
	if err != nil {
		return platform.Page{}, err
	}
	out := platform.Page{Records: make([]platform.Record, 0, len(pg.Items))}
	for _, cl := range pg.Items {
		r, err := record(cl)
		if err != nil {
			return platform.Page{}, err
		}
		out.Records = append(out.Records, r)
	}
	if pg.NextPage != nil && len(pg.Items) > 0 {
		out.Next = strconv.Itoa(number + 1)
	}
	return out, nil
}

// NextCursor implements platform.Seeker: the listing's cursors are page
// numbers.
func (p *Platform) NextCursor(cursor string) (string, bool) {
	if cursor == "" {
		return "2", true
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 1 {
		return "", false
	}
	return strconv.Itoa(n + 1), true
}

// Poll implements platform.Feed: the client feed from cursor (a startId),
// one batch at a time, each client once a batch.
func (p *Platform) Poll(ctx context.Context, cursor string) iter.Seq2[platform.FeedBatch, error] {
	return func(yield func(platform.FeedBatch, error) bool) {
		start := int64(1)
		if cursor != "" {
			n, err := strconv.ParseInt(cursor, 10, 64)
			if err != nil {
				yield(platform.FeedBatch{}, fmt.Errorf("one: feed cursor %q: %w", cursor, err))
				return
			}
			start = n
		}
		for b, err := range p.api.Feed(ctx, start, p.opts.Contexts) {
			if err != nil {
				yield(platform.FeedBatch{}, fmt.Errorf("one: read the client feed: %w", err))
				return
			}
			seen := map[string]bool{}
			out := platform.FeedBatch{Cursor: strconv.FormatInt(b.NextID, 10), Events: len(b.Events)}
			for _, ev := range b.Events {
				if !seen[ev.ClientID] {
					seen[ev.ClientID] = true
					out.IDs = append(out.IDs, ev.ClientID)
				}
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// Importable implements platform.Importer: a client the ERP does not know
// (registered in the storefront, or holding an external id the ERP lacks)
// becomes a new ERP customer.
func (p *Platform) Importable(platform.Record) bool { return true }

// CloseIdleConnections closes the client's idle keep-alive connections.
func (p *Platform) CloseIdleConnections() { p.api.CloseIdleConnections() }
