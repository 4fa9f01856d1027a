package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The push: ERP → platform, one ERP customer per job, the same for every
// platform. A job that failed before (a retry, a replayed dead letter) or
// that carries no customer (a record found invalid, unflagged or gone)
// reads the ERP record again first, so a record fixed in the ERP goes
// through and nothing stale is sent.

// classify decides what one ERP record needs on a platform: an upsert
// with the digest of what the platform would receive, the unflag policy,
// or the dead letters with the platform's field errors.
func classify(s *site, it erp.Item) (pushPayload, error) {
	cust := it.Customer
	cust.ERPKey = it.Key
	switch err := errFor(s.p.Name(), cust, it.Err); {
	case err != nil:
		return pushPayload{Op: opInvalid, Customer: cust, Reason: reasonOf(err)}, nil
	case cust.Deleted || !s.p.Wants(cust):
		return pushPayload{Op: opUnflag, Customer: cust}, nil
	}
	d, err := s.p.Prepare(cust)
	if err != nil {
		if apierr.Classify(err) != apierr.Permanent {
			return pushPayload{}, err
		}
		return pushPayload{Op: opInvalid, Customer: cust, Reason: reasonOf(err)}, nil
	}
	return pushPayload{Op: opUpsert, Customer: cust, Hash: string(d), RowDigest: it.Digest}, nil
}

// reasonOf is why a record is invalid, without its key (the dead letter's
// message names the record once): the field problems of a validation error.
func reasonOf(err error) string {
	if ve, ok := errors.AsType[*mapping.ValidationError](err); ok && len(ve.Fields) > 0 {
		return ve.Problems()
	}
	return err.Error()
}

// errFor is an ERP item's error as it concerns platform p: the field
// errors of a *mapping.ValidationError (the adapter's core check and the
// rules' transform errors) keep only the fields p receives, nil when none
// is left, so that a field blocks a platform only if it receives it; any
// other error concerns every platform.
func errFor(p mapping.Platform, c mapping.Customer, err error) error {
	ve, ok := err.(*mapping.ValidationError)
	if !ok {
		return err
	}
	if mine := ve.For(p, c); mine != nil {
		return mine
	}
	return nil
}

// reread reads an ERP customer again and classifies it.
func (c *Connector) reread(ctx context.Context, s *site, key string) (pushPayload, error) {
	it, err := c.erp.Get(ctx, key)
	if errors.Is(err, erp.ErrNotFound) {
		return pushPayload{Op: opGone, Customer: mapping.Customer{ERPKey: key}}, nil
	}
	if err != nil {
		return pushPayload{}, fmt.Errorf("connector: read ERP customer %q: %w", key, err)
	}
	if it.Key == "" {
		it.Key = key
	}
	return classify(s, it)
}

// push delivers one push job.
func (c *Connector) push(ctx context.Context, s *site, job queue.Job, p pushPayload) error {
	defer c.locks.lockUntilSettled(ctx, p.Customer.ERPKey)()
	if job.LastError != queue.LeaseAbandoned {
		return c.pushLocked(ctx, s, job, p)
	}
	// A previous process died holding this job: its attempt may have
	// created the record and died before the binding committed. Its
	// outcome is unknown, so the create looks for that record first,
	// trusting a listing begun once this process opened the state file
	// (every attempt of the dead process had ended by then). A retryable
	// failure of this attempt keeps the mark on the job, so the next
	// attempt looks too.
	job.OutcomeUnknown = true
	err := c.pushLocked(withLookupSince(ctx, c.attemptsEnded(job)), s, job, p)
	if apierr.Classify(err) == apierr.Retryable {
		err = apierr.UnknownOutcome(err)
	}
	return err
}

// pushLocked delivers a push, the ERP key's lock held.
func (c *Connector) pushLocked(ctx context.Context, s *site, job queue.Job, p pushPayload) error {
	key := p.Customer.ERPKey
	if p.Op != opUpsert && p.Op != opUnflag || failedBefore(job) {
		fresh, err := c.reread(ctx, s, key)
		if err != nil {
			return err
		}
		fresh.Version = p.Version
		p = fresh
	}
	switch p.Op {
	case opInvalid:
		return apierr.Permanently(fmt.Errorf("connector: ERP customer %q is invalid for %s: %s", key, s.name, p.Reason))
	case opUnflag:
		return c.unbindByERP(ctx, s, key, false)
	case opGone:
		return c.unbindByERP(ctx, s, key, true)
	case opUpsert:
		return c.upsert(ctx, s, job, p)
	}
	return apierr.Permanently(fmt.Errorf("connector: unknown push op %q", p.Op))
}

type lookupSinceKey struct{}

// withLookupSince returns ctx under which a look-up for a record an
// earlier attempt may have created trusts a listing begun at t or later
// (by default one begun after the push started): every attempt that could
// have created it had ended by t.
func withLookupSince(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, lookupSinceKey{}, t)
}

// attemptsEnded is when every earlier attempt of a job held by its key
// locks had ended: now, or when the state file was opened for a job whose
// lease a previous process held (queue.LeaseAbandoned).
func (c *Connector) attemptsEnded(job queue.Job) time.Time {
	if job.LastError == queue.LeaseAbandoned {
		return c.opened
	}
	return time.Now()
}

// lookupSince is the time a push's look-ups trust listings from.
func lookupSince(ctx context.Context) time.Time {
	if t, ok := ctx.Value(lookupSinceKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// failedBefore reports whether an earlier attempt of the job failed (a
// retry, or a dead letter replayed).
func failedBefore(job queue.Job) bool { return job.LastError != "" || len(job.History) > 0 }

// upsert sends a valid, flagged ERP customer: an update of the bound
// record with only the writes that changed, else a safe create.
func (c *Connector) upsert(ctx context.Context, s *site, job queue.Job, p pushPayload) error {
	start := lookupSince(ctx)
	key, cust, want := p.Customer.ERPKey, p.Customer, mapping.Digest(p.Hash)
	log := c.log.With("platform", s.name, "erp_key", key)
	b, bound, err := c.binding(ctx, s, key)
	if err != nil {
		return err
	}
	if p.Version != 0 && bound && b.Version >= p.Version {
		log.Debug("resync copy is older than the live change; skipped", "binding_version", b.Version, "read_version", p.Version-1)
		return nil
	}
	if bound && s.pushed(b, p.Hash, cust) {
		c.count(ctx, s, s.dirPush(), "unchanged")
		if err := c.trail(ctx, s, key, state.Event{Outcome: "unchanged", ID: b.ID}); err != nil {
			return err
		}
		// An earlier attempt may have sent it and failed before its id
		// reached the ERP.
		return c.ensureWrittenBack(ctx, s, cust, b.ID)
	}
	rowHash := s.rowHash(p.RowDigest, p.Hash)
	if bound {
		if rowHash != 0 { // else the one it holds may still be true
			b.RowHash = rowHash
		}
		err := c.update(ctx, s, b, cust, want, nil)
		if !platform.IsGone(err) {
			if err == nil {
				c.count(ctx, s, s.dirPush(), "updated")
				log.Info("updated on the platform", "platform_id", b.ID)
				if err = c.trail(ctx, s, key, state.Event{Outcome: "updated", ID: b.ID}); err == nil {
					err = c.ensureWrittenBack(ctx, s, cust, b.ID)
				}
			}
			return err
		}
		// Deleted on the platform while the ERP still asks for it: create it again.
		log.Info("bound platform record is gone; creating it again", "platform_id", b.ID)
	}
	return c.create(ctx, s, job, cust, want, rowHash, start)
}

// update sends what changed of a bound customer and records what the
// platform now holds, and the Seen its listing will show. When the platform
// read the record first (a full write carries over what the ERP does not
// hold or own), the engine takes in what the platform owns and shows
// differently.
func (c *Connector) update(ctx context.Context, s *site, b state.Binding, cust mapping.Customer, want mapping.Digest, cur *platform.Record) error {
	ref := platform.Ref{ID: b.ID, Extra: b.Extra}
	w, err := s.p.Update(ctx, ref, cust, want, mapping.Digest(b.PushedHash), cur)
	if platform.IsGone(err) {
		return err
	}
	if cur == nil {
		cur = w.Read
	}
	if err == nil || w.Have != mapping.Digest(b.PushedHash) {
		b.ID, b.Extra, b.PushedHash, b.SeenHash = w.Ref.ID, w.Ref.Extra, string(w.Have), w.Seen
		if err != nil {
			b.SeenHash = "" // partly sent: the next read is taken in again
		}
		if perr := c.putBinding(ctx, s, b); perr != nil {
			return perr
		}
	}
	if err != nil || cur == nil {
		return err
	}
	// The platform shows values different from the ERP's in groups it owns:
	// take them in (the pull merges them by ownership).
	if merged := s.p.Carrier().Merge(cust, cur.Customer, cur.Partial, c.terms); !sameERPRecord(merged, cust) {
		c.log.Info("the platform holds newer values in fields it owns; taking them in", "platform", s.name,
			"erp_key", cust.ERPKey, "fields", s.p.Carrier().Differences(cust, merged))
		return c.deferJobs(ctx, s.pullJobOf(pullPayload{ID: b.ID, Force: true}, queue.LaneLive))
	}
	return nil
}

// create creates the platform record of an ERP customer, safely: a record
// the ERP already links, or one an earlier attempt may have created (the
// outcome was unknown, or the platform refused a duplicate), is adopted
// instead of created again.
func (c *Connector) create(ctx context.Context, s *site, job queue.Job, cust mapping.Customer, want mapping.Digest, rowHash uint64, start time.Time) error {
	key := cust.ERPKey
	log := c.log.With("platform", s.name, "erp_key", key)
	ref, why, err := c.adoptable(ctx, s, cust, job.OutcomeUnknown, start)
	if err != nil {
		return err
	}
	var have mapping.Digest
	var seen string
	var createErr error
	adopted := ref != nil
	if ref == nil {
		wr, err := s.p.Create(ctx, cust, want)
		switch {
		case apierr.IsConflict(err):
			found, ferr := c.find(ctx, s, cust, time.Now())
			if ferr != nil {
				return ferr
			}
			if ref = found; ref == nil {
				// The platform refuses it as a duplicate of a record that is
				// not this customer's: the reason goes to the dead letters.
				return err
			}
			adopted, why = true, "the platform holds this customer already"
			log.Info(why+"; adopting it", "platform_id", ref.ID)
		case err != nil && wr.Ref.ID == "":
			return err
		case err != nil:
			ref, have, createErr = &wr.Ref, wr.Have, err
		default:
			ref, have, seen = &wr.Ref, wr.Have, wr.Seen
		}
	}
	// Bind at once: whatever fails below, a retry updates this record
	// instead of creating another. The Seen of what was created: a walk of
	// the platform's listing finds it unchanged without reading it.
	b := state.Binding{ERPKey: key, ID: ref.ID, Extra: ref.Extra, PushedHash: string(have), SeenHash: seen, RowHash: rowHash}
	if err := c.putBinding(ctx, s, b); err != nil {
		return err
	}
	if err := c.ensureWrittenBack(ctx, s, cust, ref.ID); err != nil {
		return err
	}
	if createErr != nil {
		log.Info("created on the platform; a follow-up write failed and is retried", "platform_id", ref.ID)
		if err := c.trail(ctx, s, key, state.Event{Outcome: "created", ID: ref.ID,
			Reason: "a follow-up write failed: " + createErr.Error()}); err != nil {
			return errors.Join(createErr, err)
		}
		return createErr
	}
	if !adopted {
		c.count(ctx, s, s.dirPush(), "created")
		log.Info("created on the platform", "platform_id", ref.ID)
		return c.trail(ctx, s, key, state.Event{Outcome: "created", ID: ref.ID})
	}
	c.count(ctx, s, s.dirPush(), "adopted")
	log.Info("adopted on the platform", "platform_id", ref.ID)
	if err := c.trail(ctx, s, key, state.Event{Outcome: "adopted", ID: ref.ID, Reason: why}); err != nil {
		return err
	}
	return c.bringUpToDate(ctx, s, b, cust, want)
}

// bringUpToDate updates an adopted record where the platform's view of it
// differs from what the ERP would send.
func (c *Connector) bringUpToDate(ctx context.Context, s *site, b state.Binding, cust mapping.Customer, want mapping.Digest) error {
	rec, err := s.p.Fetch(ctx, platform.Ref{ID: b.ID, Extra: b.Extra})
	if err != nil {
		return err
	}
	b.Extra = rec.Ref.Extra
	view, err := s.p.Digest(s.p.Carrier().View(cust, rec.Customer, false, c.terms))
	if err != nil {
		return err
	}
	b.PushedHash, b.SeenHash = string(view), rec.Seen
	if view == want && !rec.Inactive {
		return c.putBinding(ctx, s, b)
	}
	c.log.Info("adopted; bringing it up to date", "platform", s.name, "erp_key", cust.ERPKey, "platform_id", b.ID)
	return c.update(ctx, s, b, cust, want, &rec)
}

// adoptable returns the record to adopt instead of creating one: the one
// the ERP links (for example after the state file was lost), or the one
// unbound from this customer when the ERP unflagged it, when it still
// exists and is nobody else's; else, after an attempt whose outcome is
// unknown, the one that attempt may have created. why says which.
func (c *Connector) adoptable(ctx context.Context, s *site, cust mapping.Customer, unknown bool, start time.Time) (ref *platform.Ref, why string, err error) {
	log := c.log.With("platform", s.name, "erp_key", cust.ERPKey)
	var tomb string
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		tomb, _ = tx.TombstoneOf(s.name, cust.ERPKey)
		return nil
	}); err != nil {
		return nil, "", err
	}
	linked := cust.PlatformIDs.Get(s.name)
	if linked != "" {
		if err := c.takeOverMoved(ctx, s, cust.ERPKey, linked); err != nil {
			return nil, "", err
		}
	}
	for _, cand := range []struct{ id, why string }{
		{linked, "adopting the platform record the ERP links"},
		{tomb, "adopting the platform record this customer had before it was unflagged"},
	} {
		if cand.id == "" || c.takenBy(ctx, s, cand.id, cust.ERPKey) {
			continue
		}
		rec, err := s.p.Fetch(ctx, platform.Ref{ID: cand.id})
		switch {
		case platform.IsGone(err):
		case err != nil:
			return nil, "", err
		default:
			log.Info(cand.why, "platform_id", cand.id)
			return &rec.Ref, cand.why, nil
		}
	}
	if !unknown {
		return nil, "", nil
	}
	why = "adopting the record an earlier attempt created"
	if ref, err = c.find(ctx, s, cust, start); ref != nil {
		log.Info(why, "platform_id", ref.ID)
	}
	return ref, why, err
}

// takeOverMoved handles an ERP customer that links a platform record bound
// to another ERP key. When that key's row is gone, or no longer links the
// record, the ERP moved the customer to a new key (an inbound row taken
// into the main table, a renumbering): the binding follows it to key.
// When both rows link the record, creating another would duplicate the
// customer: the record fails with both keys named, for the ERP to fix.
func (c *Connector) takeOverMoved(ctx context.Context, s *site, key, id string) error {
	var other string
	var bound bool
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		other, bound = tx.KeyOf(s.name, id)
		return nil
	}); err != nil {
		return err
	}
	if !bound || other == key {
		return nil
	}
	it, err := c.erp.Get(ctx, other)
	switch {
	case errors.Is(err, erp.ErrNotFound):
	case err != nil:
		return fmt.Errorf("connector: read ERP customer %q: %w", other, err)
	case it.Customer.PlatformIDs.Get(s.name) == id:
		return apierr.Permanently(fmt.Errorf("connector: ERP customers %q and %q both link %s record %s: "+
			"one customer must not be two; remove the link from the row that is not this customer", other, key, s.name, id))
	}
	c.log.Info("the ERP moved this customer to a new key; its binding follows", "platform", s.name,
		"erp_key", key, "old_erp_key", other, "platform_id", id)
	return c.state.Update(ctx, func(tx *state.Tx) error {
		if cur, ok := tx.KeyOf(s.name, id); !ok || cur != other {
			return nil // someone else moved it meanwhile
		}
		return tx.RemoveBinding(s.name, other)
	})
}

// find looks for an existing platform record of cust that no other ERP
// customer is bound to.
func (c *Connector) find(ctx context.Context, s *site, cust mapping.Customer, notBefore time.Time) (*platform.Ref, error) {
	return s.p.Find(ctx, cust, notBefore, func(id string) bool { return c.takenBy(ctx, s, id, cust.ERPKey) })
}

// takenBy reports whether a platform id is bound to an ERP key other than key.
func (c *Connector) takenBy(ctx context.Context, s *site, id, key string) bool {
	var other string
	var bound bool
	_ = c.state.View(ctx, func(tx *state.Tx) error {
		other, bound = tx.KeyOf(s.name, id)
		return nil
	})
	return bound && other != key
}

// ensureWrittenBack queues the write-back of a bound record's id when the
// ERP record read for this push does not hold it.
func (c *Connector) ensureWrittenBack(ctx context.Context, s *site, cust mapping.Customer, id string) error {
	if cust.PlatformIDs.Get(s.name) == id {
		return nil
	}
	return c.queueWriteBack(ctx, cust.ERPKey, s.name, id)
}
