package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/queue"
)

// Job types of the ONe pipelines.
const (
	jobONePush = "one.push" // ERP → ONe: create, update, unflag, or a dead letter for an invalid record
	jobONePull = "one.pull" // ONe → ERP: fetch one client and apply it to the ERP
)

// Push operations.
const (
	opUpsert  = "upsert"
	opUnflag  = "unflag"
	opInvalid = "invalid"
)

// Cursor names in the state file.
const (
	cursorERPNew     = "erp.new"     // ERP change cursor of the new-customer scan
	cursorERPUpdates = "erp.updates" // ERP change cursor of the update scan
	cursorONeFeed    = "one.feed"    // ONe feed nextId
)

// pushPayload is the payload of a one.push job.
type pushPayload struct {
	Op       string           `json:"op"`
	Customer mapping.Customer `json:"customer"`
	Hash     string           `json:"hash,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	// Version, when set (resync), is one more than the binding version the
	// payload was read against: a binding at that version or later means the
	// live path moved on after the resync read the record (the watermark).
	Version uint64 `json:"version,omitempty"`
}

// pullPayload is the payload of a one.pull job.
type pullPayload struct {
	ClientID string `json:"clientId"`
	// Version, when set (resync), is one more than the binding version the
	// resync saw (see pushPayload.Version).
	Version uint64 `json:"version,omitempty"`
}

func pushKey(erpKey string) string   { return "one:push:" + erpKey }
func pullKey(clientID string) string { return "one:pull:" + clientID }

// scanKind selects which ERP changes a scan turns into ONe jobs.
type scanKind int

const (
	scanNew     scanKind = iota // customers not yet bound to ONe
	scanUpdates                 // customers bound to ONe (updates, unflags)
)

// pushSpec is what planning a push needs to know about a platform.
type pushSpec struct {
	platform mapping.Platform
	flagged  func(mapping.Customer) bool
	validate func(mapping.Customer) error
	hash     func(mapping.Customer) (string, error)
	jobType  string
	key      func(erpKey string) string
}

var (
	onePush = pushSpec{platform: mapping.PlatformONe, flagged: func(c mapping.Customer) bool { return c.Flags.ONe },
		validate: mapping.ValidateONe, hash: mapping.HashONe, jobType: jobONePush, key: pushKey}
	capiPush = pushSpec{platform: mapping.PlatformCustomerAPI, flagged: func(c mapping.Customer) bool { return c.Flags.CustomerAPI },
		validate: mapping.ValidateCustomerAPI, hash: mapping.HashCustomerAPI, jobType: jobCAPIPush, key: capiPushKey}
)

// planONe decides the ONe job (if any) one ERP item needs, reading the
// binding inside tx.
func (c *Connector) planONe(tx *bolt.Tx, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, error) {
	return c.planPush(tx, onePush, it, kind, lane)
}

// planPush decides the push (if any) one ERP item needs on one platform: a
// "new" scan handles customers not bound to it, an "updates" scan those
// that are. Invalid records become dead-letter jobs with their reasons;
// unchanged ones (same hash as last pushed) need nothing.
func (c *Connector) planPush(tx *bolt.Tx, spec pushSpec, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, error) {
	if it.Key == "" {
		return nil, nil
	}
	b, bound, err := c.bind.get(tx, spec.platform, it.Key)
	if err != nil {
		return nil, err
	}
	if (kind == scanNew) == bound {
		return nil, nil
	}
	cust := it.Customer
	var p pushPayload
	switch {
	case it.Err != nil:
		if !spec.flagged(cust) && !bound {
			return nil, nil
		}
		p = pushPayload{Op: opInvalid, Customer: cust, Reason: it.Err.Error()}
	case cust.Deleted || !spec.flagged(cust):
		if !bound {
			return nil, nil
		}
		p = pushPayload{Op: opUnflag, Customer: cust}
	default:
		if err := spec.validate(cust); err != nil {
			p = pushPayload{Op: opInvalid, Customer: cust, Reason: err.Error()}
			break
		}
		h, err := spec.hash(cust)
		if err != nil {
			return nil, err
		}
		if bound && b.PushedHash == h {
			return nil, nil // nothing changed for this platform
		}
		p = pushPayload{Op: opUpsert, Customer: cust, Hash: h}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("connector: encode job: %w", err)
	}
	return &queue.Job{Type: spec.jobType, Key: spec.key(it.Key), Payload: payload, Lane: lane}, nil
}

// planner turns one ERP item into the job (if any) one platform needs.
type planner func(tx *bolt.Tx, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, error)

// planners are the platforms' planners, for the platforms configured.
func (c *Connector) planners() []planner {
	var out []planner
	if c.cfg.ONe != nil {
		out = append(out, c.planONe)
	}
	if c.cfg.CustomerAPI != nil {
		out = append(out, c.planCAPI)
	}
	return out
}

// scanERP reads ERP changes since the scan's cursor and queues the
// platforms' jobs, one page per transaction: the cursor moves in the
// transaction that queues the page's jobs. A "new" scan queues customers not
// yet bound to a platform, an "updates" scan those that are.
func (c *Connector) scanERP(ctx context.Context, kind scanKind) (int, error) {
	cursorName := cursorERPNew
	if kind == scanUpdates {
		cursorName = cursorERPUpdates
	}
	queued := 0
	for {
		if err := c.awaitRoom(ctx); err != nil {
			return queued, err
		}
		cur, _, err := c.store.GetCursor(ctx, cursorName)
		if err != nil {
			return queued, err
		}
		page, err := c.erp.Changes(ctx, string(cur), c.cfg.ERP.PageSize)
		if err != nil {
			return queued, fmt.Errorf("connector: read ERP changes: %w", err)
		}
		n := 0
		err = c.store.Update(ctx, func(tx *bolt.Tx) error {
			n = 0
			var jobs []queue.Job
			for _, it := range page.Items {
				for _, plan := range c.planners() {
					j, err := plan(tx, it, kind, queue.LaneLive)
					if err != nil {
						return err
					}
					if j != nil {
						jobs = append(jobs, *j)
					}
				}
			}
			if err := c.store.EnqueueTx(tx, jobs...); err != nil {
				return err
			}
			n = len(jobs)
			return queue.SetCursorTx(tx, cursorName, []byte(page.Cursor))
		})
		if err != nil {
			return queued, fmt.Errorf("connector: queue ERP changes: %w", err)
		}
		queued += n
		c.m.queued.WithLabelValues("erp").Add(float64(n))
		if !page.More || len(page.Items) == 0 {
			return queued, nil
		}
	}
}

// maxHeld bounds the jobs an ERP scan or a feed poll lets the queue hold: a
// migration or a catch-up of any size goes through in chunks, so the state
// file and the memory it maps stay small. The reader waits for the
// deliveries to bring the queue down to resumeHeld before queueing more.
const (
	maxHeld    = 2000
	resumeHeld = maxHeld / 2
)

// awaitRoom blocks while the queue holds maxHeld jobs or more, until it
// is down to resumeHeld (or ctx ends).
func (c *Connector) awaitRoom(ctx context.Context) error {
	n, err := c.store.Held(ctx)
	if err != nil || n < maxHeld {
		return err
	}
	c.log.Debug("queue full; the ERP scan waits for deliveries", "held", n)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n > resumeHeld {
		select {
		case <-ctx.Done():
			return fmt.Errorf("connector: wait for queue room: %w", ctx.Err())
		case <-t.C:
		}
		if n, err = c.store.Held(ctx); err != nil {
			return err
		}
	}
	return nil
}

// pollFeed drains the ONe client feed from the stored cursor, queueing one
// pull job per client (deduplicated within a batch). nextId is stored in
// the transaction that queues the batch's jobs.
func (c *Connector) pollFeed(ctx context.Context) (int, error) {
	cur, ok, err := c.store.GetCursor(ctx, cursorONeFeed)
	if err != nil {
		return 0, err
	}
	start := int64(1)
	if ok {
		if start, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
			return 0, fmt.Errorf("connector: feed cursor %q: %w", cur, err)
		}
	}
	contexts := make([]oneapi.Context, 0, len(c.cfg.ONe.Contexts))
	for _, cx := range c.cfg.ONe.Contexts {
		contexts = append(contexts, oneapi.Context(cx))
	}
	queued := 0
	for batch, err := range c.one.Feed(ctx, start, contexts) {
		if err != nil {
			return queued, fmt.Errorf("connector: read ONe feed: %w", err)
		}
		if err := c.awaitRoom(ctx); err != nil {
			return queued, err
		}
		seen := map[string]bool{}
		var jobs []queue.Job
		for _, ev := range batch.Events {
			if seen[ev.ClientID] {
				continue
			}
			seen[ev.ClientID] = true
			payload, _ := json.Marshal(pullPayload{ClientID: ev.ClientID})
			jobs = append(jobs, queue.Job{Type: jobONePull, Key: pullKey(ev.ClientID), Payload: payload, Lane: queue.LaneLive})
		}
		err := c.store.Update(ctx, func(tx *bolt.Tx) error {
			if err := c.store.EnqueueTx(tx, jobs...); err != nil {
				return err
			}
			return queue.SetCursorTx(tx, cursorONeFeed, []byte(strconv.FormatInt(batch.NextID, 10)))
		})
		if err != nil {
			return queued, fmt.Errorf("connector: queue feed batch: %w", err)
		}
		queued += len(jobs)
		c.m.queued.WithLabelValues("one_to_erp").Add(float64(len(jobs)))
		c.st.setFeed(batch.NextID, len(batch.Events))
	}
	return queued, nil
}

// handleONe delivers one ONe job.
func (c *Connector) handleONe(ctx context.Context, job queue.Job) error {
	switch job.Type {
	case jobONePush:
		var p pushPayload
		if err := json.Unmarshal(job.Payload, &p); err != nil {
			return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
		}
		err := c.push(ctx, job, p)
		c.m.outcome("erp_to_one", p.Op, err)
		return err
	case jobONePull:
		var p pullPayload
		if err := json.Unmarshal(job.Payload, &p); err != nil {
			return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
		}
		err := c.pull(ctx, p)
		c.m.outcome("one_to_erp", "pull", err)
		return err
	}
	return apierr.Permanently(fmt.Errorf("connector: unknown job type %q", job.Type))
}

func (c *Connector) binding(ctx context.Context, p mapping.Platform, key string) (Binding, bool, error) {
	var b Binding
	var ok bool
	err := c.store.View(ctx, func(tx *bolt.Tx) error {
		var err error
		b, ok, err = c.bind.get(tx, p, key)
		return err
	})
	return b, ok, err
}

func (c *Connector) putBinding(ctx context.Context, p mapping.Platform, b Binding) error {
	// In a delivery the binding commits with the job's settlement (no
	// commit of its own); elsewhere it is batched with concurrent writers.
	return c.store.Defer(ctx, func(tx *bolt.Tx) error {
		_, err := c.bind.put(tx, p, b, c.now())
		return err
	})
}

func (c *Connector) push(ctx context.Context, job queue.Job, p pushPayload) error {
	attemptStart := time.Now()
	key := p.Customer.ERPKey
	defer c.locks.lockUntilSettled(ctx, key)()
	log := c.log.With("erp_key", key)
	switch p.Op {
	case opInvalid:
		// A record the platform would refuse goes to the dead letters with
		// its field errors. The record is read again first, so a dead letter
		// replayed after the ERP record was fixed is sent.
		fresh, err := c.freshPush(ctx, key)
		if err != nil {
			return err
		}
		if fresh.Op == opInvalid {
			return apierr.Permanently(fmt.Errorf("connector: ERP customer %q is invalid: %s", key, fresh.Reason))
		}
		p = fresh
		if p.Op == opUnflag {
			return c.unflagONe(ctx, key)
		}
	case opUnflag:
		return c.unflagONe(ctx, key)
	case opUpsert:
	default:
		return apierr.Permanently(fmt.Errorf("connector: unknown push op %q", p.Op))
	}
	b, bound, err := c.binding(ctx, mapping.PlatformONe, key)
	if err != nil {
		return err
	}
	if p.Version != 0 && bound && b.Version >= p.Version {
		log.Debug("resync copy is older than the live change; skipped", "binding_version", b.Version, "read_version", p.Version-1)
		return nil
	}
	if bound && b.PushedHash == p.Hash {
		return c.ensureWrittenBack(ctx, p.Customer, b.ID)
	}
	write := mapping.ToONeWrite(p.Customer)
	if bound {
		err := c.updateONe(ctx, b.ID, p.Customer, write, b)
		switch {
		case apierr.IsNotFound(err):
			// Deleted on ONe while the ERP still asks for it: create it again.
			log.Info("bound ONe client is gone; creating it again", "client_id", b.ID)
			bound = false
		case err != nil:
			return err
		default:
			b.PushedHash = p.Hash
			if err := c.putBinding(ctx, mapping.PlatformONe, b); err != nil {
				return err
			}
			c.st.count("erp_to_one", "updated")
			// An earlier attempt may have created the client and failed
			// before its id reached the ERP.
			return c.ensureWrittenBack(ctx, p.Customer, b.ID)
		}
	}

	// Create, safely: when an earlier attempt may have created the client,
	// look for it by external id first and adopt it.
	var id, addressID string
	adopted := false
	if job.OutcomeUnknown {
		// The earlier attempt ended before this one began.
		cl, err := c.findONeByExternalID(ctx, key, attemptStart)
		if err != nil {
			return err
		}
		if cl != nil {
			log.Info("adopting the client an earlier attempt created", "client_id", cl.ID)
			id, addressID, adopted = cl.ID, cl.AddressID, true
			c.st.count("erp_to_one", "adopted")
		}
	}
	if id == "" {
		resp, err := c.one.CreateClient(ctx, write)
		switch {
		case apierr.IsConflict(err):
			cl, ferr := c.findONeByExternalID(ctx, key, time.Now())
			if ferr != nil {
				return ferr
			}
			if cl == nil {
				return err
			}
			log.Info("a client with this external id exists; adopting it", "client_id", cl.ID)
			id, addressID, adopted = cl.ID, cl.AddressID, true
			c.st.count("erp_to_one", "adopted")
		case err != nil:
			return err
		default:
			id, addressID = resp.ClientID, resp.AddressID
			c.st.count("erp_to_one", "created")
		}
	}
	nb := Binding{ERPKey: key, ID: id, Extra: map[string]string{"addressId": addressID}}
	if err := c.putBinding(ctx, mapping.PlatformONe, nb); err != nil {
		return err
	}
	if adopted {
		// Bring the adopted client up to date.
		if err := c.updateONe(ctx, id, p.Customer, write, nb); err != nil {
			return err
		}
	} else if fin := mapping.ToONeFinance(p.Customer); fin != (oneapi.FinanceData{}) {
		// What the write model cannot carry.
		if err := c.one.UpdateFinanceData(ctx, id, fin); err != nil {
			return err
		}
	}
	if err := c.queueWriteBack(ctx, key, mapping.PlatformONe, id); err != nil && !errors.Is(err, erp.ErrNotFound) {
		return fmt.Errorf("connector: write back ONe id: %w", err)
	}
	nb.PushedHash = p.Hash
	return c.putBinding(ctx, mapping.PlatformONe, nb)
}

// ensureWrittenBack queues the write-back of a bound client's id when the
// ERP record read for this push does not hold it.
func (c *Connector) ensureWrittenBack(ctx context.Context, cust mapping.Customer, id string) error {
	if cust.PlatformIDs.ONe == id {
		return nil
	}
	return c.queueWriteBack(ctx, cust.ERPKey, mapping.PlatformONe, id)
}

// freshPush reads an ERP customer again and plans its push.
func (c *Connector) freshPush(ctx context.Context, key string) (pushPayload, error) {
	it, err := c.erp.Get(ctx, key)
	if err != nil {
		return pushPayload{}, fmt.Errorf("connector: read ERP customer %q: %w", key, err)
	}
	cust := it.Customer
	switch {
	case it.Err != nil:
		return pushPayload{Op: opInvalid, Customer: cust, Reason: it.Err.Error()}, nil
	case cust.Deleted || !cust.Flags.ONe:
		return pushPayload{Op: opUnflag, Customer: cust}, nil
	}
	if err := mapping.ValidateONe(cust); err != nil {
		return pushPayload{Op: opInvalid, Customer: cust, Reason: err.Error()}, nil
	}
	h, err := mapping.HashONe(cust)
	if err != nil {
		return pushPayload{}, err
	}
	return pushPayload{Op: opUpsert, Customer: cust, Hash: h}, nil
}

// updateONe sends a bound customer's data: a full PUT or the partial
// endpoints, then the finance data when the customer carries any.
func (c *Connector) updateONe(ctx context.Context, id string, cust mapping.Customer, write oneapi.ClientWrite, b Binding) error {
	if c.cfg.ONe.UpdateMode == "partial" && b.Extra["addressId"] != "" {
		if err := c.one.UpdateBasicData(ctx, id, mapping.ToONeBasic(cust, b.Extra["addressId"])); err != nil {
			return err
		}
		if err := c.one.UpdateAdvancedData(ctx, id, mapping.ToONeAdvanced(cust)); err != nil {
			return err
		}
		if err := c.one.UpdateAdditionalData(ctx, id, mapping.ToONeAdditional(cust)); err != nil {
			return err
		}
	} else {
		if err := c.one.UpdateClient(ctx, id, write); err != nil {
			return err
		}
	}
	if fin := mapping.ToONeFinance(cust); fin != (oneapi.FinanceData{}) {
		if err := c.one.UpdateFinanceData(ctx, id, fin); err != nil {
			return err
		}
	}
	return nil
}

// unflagONe applies the unflag policy to a customer the ERP no longer sends.
func (c *Connector) unflagONe(ctx context.Context, key string) error {
	b, bound, err := c.binding(ctx, mapping.PlatformONe, key)
	if err != nil || !bound {
		return err
	}
	if c.cfg.ONe.OnUnflag == "delete" {
		if err := c.one.DeleteClient(ctx, b.ID); err != nil && !apierr.IsNotFound(err) {
			return err
		}
		c.st.count("erp_to_one", "deleted")
	} else {
		c.st.count("erp_to_one", "unbound")
	}
	if err := c.store.Update(ctx, func(tx *bolt.Tx) error { return c.bind.remove(tx, mapping.PlatformONe, key) }); err != nil {
		return err
	}
	if err := c.erp.Unlink(ctx, key, mapping.PlatformONe); err != nil && !errors.Is(err, erp.ErrNotFound) {
		return fmt.Errorf("connector: unlink ERP customer: %w", err)
	}
	return nil
}

// pull applies one ONe client to the ERP.
func (c *Connector) pull(ctx context.Context, p pullPayload) error {
	log := c.log.With("client_id", p.ClientID)
	var key string
	var bound bool
	if err := c.store.View(ctx, func(tx *bolt.Tx) error {
		key, bound = c.bind.byID(tx, mapping.PlatformONe, p.ClientID)
		return nil
	}); err != nil {
		return err
	}
	if bound {
		defer c.locks.lockUntilSettled(ctx, key)()
	} else {
		defer c.locks.lockUntilSettled(ctx, "one:"+p.ClientID)()
	}
	var b Binding
	if bound {
		var err error
		if b, _, err = c.binding(ctx, mapping.PlatformONe, key); err != nil {
			return err
		}
		if p.Version != 0 && b.Version >= p.Version {
			log.Debug("resync pull skipped: the live path moved on after the resync read this", "erp_key", key,
				"binding_version", b.Version, "read_version", p.Version-1)
			return nil
		}
	}
	cl, err := c.one.GetClient(ctx, p.ClientID)
	if apierr.IsNotFound(err) {
		if !bound {
			return nil
		}
		return c.platformDeletedONe(ctx, key)
	}
	if err != nil {
		return err
	}
	incoming, seen, err := takeInONe(*cl)
	if err != nil {
		return err
	}
	if bound && b.SeenHash == seen {
		c.st.count("one_to_erp", "unchanged")
		return nil // nothing changed on ONe since the connector last took this in
	}

	if !bound && incoming.ERPKey != "" {
		// Known to the ERP under its external id, but not bound here (for
		// example after the state file was lost): bind it.
		if _, err := c.erp.Get(ctx, incoming.ERPKey); err == nil {
			key, bound = incoming.ERPKey, true
			b = Binding{ERPKey: key, ID: cl.ID, Extra: map[string]string{"addressId": cl.BillingAddress.ID}}
		} else if !errors.Is(err, erp.ErrNotFound) {
			return err
		}
	}
	if !bound {
		return c.adoptStorefrontClient(ctx, cl, incoming)
	}

	it, err := c.erp.Get(ctx, key)
	if errors.Is(err, erp.ErrNotFound) {
		log.Warn("bound ERP customer is gone; taking the client in again", "erp_key", key)
		incoming.ERPKey = key
		return c.adoptStorefrontClient(ctx, cl, incoming)
	}
	if err != nil {
		return err
	}
	cur := it.Customer
	cur.Normalize()
	merged := c.cfg.mergeONe(cur, incoming)
	stored := cur
	if !sameERPRecord(cur, merged) {
		log.Info("taking an ONe change into the ERP", "erp_key", key, "fields", diffFields(cur, merged))
		if _, err := c.erp.Upsert(ctx, merged); err != nil {
			return fmt.Errorf("connector: write ONe change to the ERP: %w", err)
		}
		// Read back what the ERP kept: that is what its change scan will see.
		it, err := c.erp.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("connector: read back ERP customer: %w", err)
		}
		stored = it.Customer
		stored.Normalize()
		c.st.count("one_to_erp", "updated")
	} else {
		c.st.count("one_to_erp", "unchanged")
	}
	// ONe now holds the platform view of the record; remember its hash so
	// the ERP scan does not echo the change back.
	viewHash, err := mapping.HashONe(onePlatformView(stored, incoming))
	if err != nil {
		return err
	}
	b.PushedHash = viewHash
	b.SeenHash = seen
	if b.Extra == nil {
		b.Extra = map[string]string{}
	}
	b.Extra["addressId"] = cl.BillingAddress.ID
	if err := c.putBinding(ctx, mapping.PlatformONe, b); err != nil {
		return err
	}
	// What the ERP owns (or cannot hold) and ONe shows differently goes back to ONe.
	storedHash, err := mapping.HashONe(stored)
	if err != nil {
		return err
	}
	if storedHash != viewHash && stored.Flags.ONe && !stored.Deleted {
		log.Info("ERP record differs from ONe after taking the change in; pushing the ERP's values",
			"erp_key", key, "fields", diffFields(mapping.ToONePayload(stored), mapping.ToONePayload(onePlatformView(stored, incoming))))
		return c.enqueuePush(ctx, stored, storedHash)
	}
	return nil
}

// diffFields names the top-level JSON fields in which two values differ.
func diffFields(a, b any) []string {
	flat := func(v any) map[string]string {
		raw, _ := json.Marshal(v)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		out := map[string]string{}
		for k, v := range m {
			var inner map[string]json.RawMessage
			if json.Unmarshal(v, &inner) == nil {
				for ik, iv := range inner {
					out[k+"."+ik] = string(iv)
				}
				continue
			}
			out[k] = string(v)
		}
		return out
	}
	fa, fb := flat(a), flat(b)
	var diff []string
	for k, v := range fa {
		if fb[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	return diff
}

func (c *Connector) enqueuePush(ctx context.Context, cust mapping.Customer, hash string) error {
	if err := mapping.ValidateONe(cust); err != nil {
		return nil // the ERP record is invalid for ONe; the ERP scan dead-letters it
	}
	payload, err := json.Marshal(pushPayload{Op: opUpsert, Customer: cust, Hash: hash})
	if err != nil {
		return err
	}
	job := queue.Job{Type: jobONePush, Key: pushKey(cust.ERPKey), Payload: payload, Lane: queue.LaneLive}
	// Queued with the handler's bindings, never before them: the push must
	// find the binding this handler wrote, or it would create the client again.
	return c.store.Defer(ctx, func(tx *bolt.Tx) error { return c.store.EnqueueTx(tx, job) })
}

// sameERPRecord reports whether writing merged would change nothing.
func sameERPRecord(cur, merged mapping.Customer) bool {
	a, _ := json.Marshal(cur)
	b, _ := json.Marshal(merged)
	return string(a) == string(b)
}

// adoptStorefrontClient makes a client registered on ONe a new ERP customer,
// bound to it, and gives the client the new ERP key as its external id.
func (c *Connector) adoptStorefrontClient(ctx context.Context, cl *oneapi.Client, incoming mapping.Customer) error {
	incoming.Flags.ONe = true
	incoming.PlatformIDs.ONe = cl.ID
	key, err := c.erp.Upsert(ctx, incoming)
	if err != nil {
		return fmt.Errorf("connector: create ERP customer from ONe client %s: %w", cl.ID, err)
	}
	it, err := c.erp.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("connector: read back new ERP customer: %w", err)
	}
	stored := it.Customer
	stored.Normalize()
	b := Binding{ERPKey: key, ID: cl.ID, Extra: map[string]string{"addressId": cl.BillingAddress.ID}}
	if err := c.putBinding(ctx, mapping.PlatformONe, b); err != nil {
		return err
	}
	c.st.count("one_to_erp", "created")
	h, err := mapping.HashONe(stored)
	if err != nil {
		return err
	}
	if cl.ExternalID == key {
		view, err := mapping.HashONe(onePlatformView(stored, incoming))
		if err != nil {
			return err
		}
		b.PushedHash = view
		if err := c.putBinding(ctx, mapping.PlatformONe, b); err != nil {
			return err
		}
		if view == h {
			return nil
		}
	}
	// Give ONe the ERP key (and anything the ERP added) through the push path.
	return c.enqueuePush(ctx, stored, h)
}

// platformDeletedONe applies the delete policy when ONe no longer has a bound client.
func (c *Connector) platformDeletedONe(ctx context.Context, key string) error {
	if err := c.store.Update(ctx, func(tx *bolt.Tx) error { return c.bind.remove(tx, mapping.PlatformONe, key) }); err != nil {
		return err
	}
	var err error
	if c.cfg.ONe.OnDelete == "mark-deleted" {
		err = c.erp.MarkDeleted(ctx, key)
		c.st.count("one_to_erp", "marked_deleted")
	} else {
		err = c.erp.Unlink(ctx, key, mapping.PlatformONe)
		c.st.count("one_to_erp", "unlinked")
	}
	if err != nil && !errors.Is(err, erp.ErrNotFound) {
		return fmt.Errorf("connector: apply ONe delete to the ERP: %w", err)
	}
	return nil
}
