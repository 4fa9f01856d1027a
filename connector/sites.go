package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	capi "github.com/erpconnector/erpconnector/customerapi"

	"github.com/erpconnector/erpconnector/connector/customerapi"
	"github.com/erpconnector/erpconnector/connector/one"
	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/queue"
)

// site is one platform as the engine runs it: the platform, its delivery
// pool, its policies and the names of its jobs, cursors and runs. Every
// capability of the engine is written once over sites.
type site struct {
	p    platform.Platform
	name mapping.Platform
	// prefix names the platform's jobs ("one.push", keys "one:push:<erp key>"),
	// directions in status and metrics ("erp_to_one", "one_to_erp") and its
	// feed cursor ("one.feed").
	prefix string
	// upstream names the platform's delivery pool and breaker.
	upstream string
	pool     *queue.Pool
	onUnflag platform.Policy
	onDelete string
	// changesRun and changesSpec are the run (and its schedule) that reads
	// the platform's changes: its feed, or a walk of its listing.
	changesRun, changesSpec string
	// closeIdle closes the client's idle connections on Stop.
	closeIdle func()
	// legacyHash is the whole-payload hash earlier versions stored as a
	// binding's pushed hash (see pushed).
	legacyHash func(mapping.Customer) (string, error)
	// chunk is how many new customers one chunk job carries (1: none).
	chunk int
}

// pushed reports whether a binding says the platform holds what digest d
// of customer c describes. A binding written by an earlier version holds a
// whole-payload hash instead of a digest: it is compared in its own terms,
// so an upgrade does not send every customer again.
func (s *site) pushed(b state.Binding, d string, c mapping.Customer) bool {
	if b.PushedHash == d {
		return true
	}
	if !strings.HasPrefix(b.PushedHash, mapping.HashPrefix) || s.legacyHash == nil {
		return false
	}
	h, err := s.legacyHash(c)
	return err == nil && h == b.PushedHash
}

func (s *site) pushType() string   { return s.prefix + ".push" }
func (s *site) pullType() string   { return s.prefix + ".pull" }
func (s *site) enrichType() string { return s.prefix + ".cert" }

func (s *site) pushKey(erpKey string) string   { return s.prefix + ":push:" + erpKey }
func (s *site) pullKey(id string) string       { return s.prefix + ":pull:" + id }
func (s *site) enrichKey(erpKey string) string { return s.prefix + ":cert:" + erpKey }

func (s *site) dirPush() string   { return "erp_to_" + s.prefix }
func (s *site) dirPull() string   { return s.prefix + "_to_erp" }
func (s *site) dirEnrich() string { return s.prefix + "_certificates" }

// feedCursor is the name of the platform's feed cursor.
func (s *site) feedCursor() string { return s.prefix + ".feed" }

// resyncName is the name of the platform's resync migration (and of the
// set of platform ids its platform walk saw).
func (s *site) resyncName() string { return "resync." + string(s.name) }

// resyncERPSet names the set of ERP keys the resync's ERP walk listed.
func (s *site) resyncERPSet() string { return "resync." + string(s.name) + ".erp" }

// types are the job types the site's pool delivers (enrichment jobs exist
// only for a platform.Enricher).
func (s *site) types() []string {
	return []string{s.pushType(), s.pullType(), s.enrichType(), s.chunkType()}
}

// Job payloads and operations.
const (
	opUpsert = "upsert" // create or update the platform record
	opUnflag = "unflag" // the ERP no longer sends the customer: the unflag policy
	opReread = "reread" // read the ERP record again and do what it needs
	// opInvalid is a record the platform would refuse; it is read again
	// (a fixed record goes through) and dead-lettered with its reasons.
	opInvalid = "invalid"
	// opGone is an ERP record that no longer exists: the unflag policy, and
	// the platform record is never taken in again.
	opGone = "gone"
)

// pushPayload is the payload of a push job.
type pushPayload struct {
	// Run is the run the job counts for in the run history (stampRun
	// writes it first in the payload; absent in jobs of earlier versions).
	Run      uint64           `json:"run,omitempty"`
	Op       string           `json:"op"`
	Customer mapping.Customer `json:"customer"`
	// Hash is the mapping.Digest of what the platform receives.
	Hash   string `json:"hash,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Version, when set (resync), is one more than the binding version the
	// payload was read against: a binding at that version or later means the
	// live path moved on after the resync read the record (the watermark).
	Version uint64 `json:"version,omitempty"`
	// RowDigest is the erp.Item.Digest of the row Customer was mapped
	// from (0: none): a push that leaves the platform holding Hash records
	// the pair in the binding's RowHash.
	RowDigest uint64 `json:"rowDigest,omitempty"`
}

// pullPayload is the payload of a pull job.
type pullPayload struct {
	// Run: see pushPayload.Run.
	Run uint64 `json:"run,omitempty"`
	// ID is the platform id ("clientId" and "organisationId" in jobs of
	// earlier versions).
	ID             string `json:"id,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	OrganisationID string `json:"organisationId,omitempty"`
	// Version, when set (resync), is one more than the binding version the
	// resync saw (see pushPayload.Version).
	Version uint64 `json:"version,omitempty"`
	// Force takes the record in even when it is what was last seen (a push
	// found the platform ahead in fields it owns).
	Force bool `json:"force,omitempty"`
}

func (p pullPayload) id() string {
	switch {
	case p.ID != "":
		return p.ID
	case p.ClientID != "":
		return p.ClientID
	}
	return p.OrganisationID
}

// enrichPayload is the payload of an enrichment job.
type enrichPayload struct {
	// Run: see pushPayload.Run.
	Run    uint64 `json:"run,omitempty"`
	ERPKey string `json:"erpKey"`
}

func (s *site) pushJob(p pushPayload, lane queue.Lane) (queue.Job, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return queue.Job{}, fmt.Errorf("connector: encode job: %w", err)
	}
	return queue.Job{Type: s.pushType(), Key: s.pushKey(p.Customer.ERPKey), Payload: payload, Lane: lane}, nil
}

func (s *site) pullJob(id string, version uint64, lane queue.Lane) queue.Job {
	return s.pullJobOf(pullPayload{ID: id, Version: version}, lane)
}

func (s *site) pullJobOf(p pullPayload, lane queue.Lane) queue.Job {
	payload, _ := json.Marshal(p)
	return queue.Job{Type: s.pullType(), Key: s.pullKey(p.id()), Payload: payload, Lane: lane}
}

// handle delivers one job of the site's pool.
func (c *Connector) handle(s *site) queue.Handler {
	return func(ctx context.Context, job queue.Job) error {
		decode := func(v any) error {
			if err := json.Unmarshal(job.Payload, v); err != nil {
				return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
			}
			return nil
		}
		switch job.Type {
		case s.pushType():
			p, ok := c.handoff.take(job)
			if !ok {
				if err := decode(&p); err != nil {
					return err
				}
			}
			ctx := c.delivering(ctx, job, p.Run)
			err := c.push(ctx, s, job, p)
			c.m.outcome(s.dirPush(), p.Op, err)
			err = c.refused(ctx, s, p.Customer.ERPKey, err)
			c.delivered(ctx, s, job, err)
			return err
		case s.chunkType():
			var cp chunkPayload
			if err := decode(&cp); err != nil {
				return err
			}
			members, _ := c.handoff.takeChunk(job)
			return c.deliverChunk(ctx, s, job, cp, members)
		case s.pullType():
			var p pullPayload
			if err := decode(&p); err != nil {
				return err
			}
			ctx := c.delivering(ctx, job, p.Run)
			err := c.pull(ctx, s, p)
			c.m.outcome(s.dirPull(), "pull", err)
			c.delivered(ctx, s, job, err)
			return err
		case s.enrichType():
			var p enrichPayload
			if err := decode(&p); err != nil {
				return err
			}
			ctx := c.delivering(ctx, job, p.Run)
			err := c.enrich(ctx, s, p.ERPKey)
			c.m.outcome(s.dirEnrich(), "certificate", err)
			c.delivered(ctx, s, job, err)
			return err
		}
		return apierr.Permanently(fmt.Errorf("connector: unknown job type %q", job.Type))
	}
}

// newPool builds a site's delivery pool.
func (c *Connector) newPool(s *site, u Upstream, opts Options) error {
	pool, err := queue.NewPool(c.store, queue.PoolOptions{
		Upstream: s.upstream, Types: s.types(), Handler: c.handle(s),
		Workers: u.Workers, Rate: u.Rate, Burst: u.Burst, LimitRequests: true,
		Breaker: queue.BreakerSettings{ConsecutiveFailures: uint32(u.BreakerFailures), OpenTimeout: u.BreakerOpen},
		Logger:  c.log, Metrics: opts.Registerer,
	})
	if err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	s.pool = pool
	s.chunk = chunkSize(u, c.cfg.Queue.LeaseTimeout)
	return nil
}

// buildSites builds the configured platforms. Each platform's client sends
// through its pool's gate: every request (not only a job's first) waits out
// a Retry-After pause and takes a rate-limit token, and a 429/503 pauses
// the platform on arrival.
func (c *Connector) buildSites(opts Options, terms mapping.Terms) error {
	ua := "erpconnector/" + opts.Version
	if opts.Version == "" {
		ua = "erpconnector"
	}
	sc := c.cfg.Schedules
	if o := c.cfg.ONe; o != nil {
		s := &site{name: mapping.PlatformONe, prefix: platformPrefixes[mapping.PlatformONe], upstream: "one", onUnflag: platform.Policy(o.OnUnflag),
			onDelete: o.OnDelete, changesRun: RunFeed, changesSpec: sc.Feed, legacyHash: mapping.HashONe}
		if err := c.newPool(s, o.Upstream, opts); err != nil {
			return err
		}
		base := opts.Transport
		if base == nil {
			base = keepAlive()
		}
		api, err := oneapi.New(oneapi.Config{BaseURL: o.BaseURL, Tenant: o.Tenant, APIKey: o.APIKey, Timeout: o.Timeout,
			UserAgent: ua, Transport: s.pool.Gate(base), Logger: c.log})
		if err != nil {
			return fmt.Errorf("connector: %w", err)
		}
		contexts := make([]oneapi.Context, 0, len(o.Contexts))
		for _, cx := range o.Contexts {
			contexts = append(contexts, oneapi.Context(cx))
		}
		p := one.New(api, one.Options{Terms: terms, PageSize: o.PageSize, Contexts: contexts, Logger: c.log})
		s.p, s.closeIdle = p, p.CloseIdleConnections
		c.sites = append(c.sites, s)
	}
	if ca := c.cfg.CustomerAPI; ca != nil {
		s := &site{name: mapping.PlatformCustomerAPI, prefix: platformPrefixes[mapping.PlatformCustomerAPI], upstream: "customer", onUnflag: platform.Policy(ca.OnUnflag),
			onDelete: ca.OnDelete, changesRun: RunCustomerPull, changesSpec: sc.CustomerPull, legacyHash: mapping.HashCustomerAPI}
		if err := c.newPool(s, ca.Upstream, opts); err != nil {
			return err
		}
		base := opts.Transport
		if base == nil {
			base = keepAlive()
		}
		hc := &http.Client{Transport: s.pool.Gate(base)}
		api, err := capi.New(capi.Options{BaseURL: ca.BaseURL, Timeout: ca.Timeout, Version: opts.Version,
			Credentials: capi.Credentials{Username: ca.Username, Password: ca.Password, APIToken: ca.APIToken},
			HTTPClient:  hc, Logger: c.log, Clock: c.now})
		if err != nil {
			return fmt.Errorf("connector: %w", err)
		}
		s.p, s.closeIdle = customerapi.New(api, customerapi.Options{Terms: terms, PageSize: ca.PageSize,
			CertificateCountry: ca.CertificateCountry, Logger: c.log}), hc.CloseIdleConnections
		c.sites = append(c.sites, s)
	}
	return nil
}

// keepAlive is a platform's HTTP transport: every worker keeps its
// connection open between requests.
func keepAlive() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// site returns the configured site of a platform, or nil.
func (c *Connector) site(p mapping.Platform) *site {
	for _, s := range c.sites {
		if s.name == p {
			return s
		}
	}
	return nil
}
