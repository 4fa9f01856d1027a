package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// The pull: platform → ERP, one platform record per job, the same for
// every platform. The record is read whole and merged into the bound ERP
// customer by field ownership; its seen hash and the platform's view of the
// record are remembered, so an unchanged record is not taken in again and
// the ERP scan does not echo the change back.

// pull delivers one pull job.
func (c *Connector) pull(ctx context.Context, s *site, p pullPayload) error {
	id := p.id()
	var key, tomb string
	var bound, tombstoned bool
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		key, bound = tx.KeyOf(s.name, id)
		tomb, tombstoned = tx.Tombstoned(s.name, id)
		return nil
	}); err != nil {
		return err
	}
	if !bound {
		defer c.locks.lockUntilSettled(ctx, s.prefix+":"+id)()
		if tombstoned {
			c.log.Debug("platform record unbound on purpose; not taken in", "platform", s.name, "platform_id", id, "erp_key", tomb)
			return nil
		}
		return c.pullUnbound(ctx, s, id)
	}
	defer c.locks.lockUntilSettled(ctx, key)()
	b, bound, err := c.binding(ctx, s, key)
	if err != nil || !bound || b.ID != id {
		return err // unbound or rebound meanwhile
	}
	if p.Version != 0 && b.Version >= p.Version {
		c.log.Debug("resync pull skipped: the live path moved on after the resync read this", "platform", s.name,
			"erp_key", key, "binding_version", b.Version, "read_version", p.Version-1)
		return nil
	}
	rec, err := s.p.Fetch(ctx, platform.Ref{ID: id, Extra: b.Extra})
	switch {
	case platform.IsGone(err):
		return c.unbindByPlatform(ctx, s, key, id, "gone")
	case err != nil:
		return err
	case rec.Inactive:
		return c.unbindByPlatform(ctx, s, key, id, "deactivated")
	case b.SeenHash == rec.Seen && !p.Force:
		c.count(ctx, s, s.dirPull(), "unchanged")
		return nil // nothing changed on the platform since the connector last took this in
	}
	it, err := c.erp.Get(ctx, key)
	switch {
	case errors.Is(err, erp.ErrNotFound):
		// The ERP row is gone: never taken in again from the platform side.
		return c.unbindByERP(ctx, s, key, true)
	case err != nil:
		return err
	case it.Customer.Deleted:
		// Deleted in the ERP: its unflag policy, not a write that would
		// bring the customer back.
		return c.unbindByERP(ctx, s, key, false)
	}
	return c.apply(ctx, s, b, it.Customer, rec)
}

// pullUnbound takes in a platform record no ERP customer is bound to: one
// holding the key of an ERP customer that wants it is bound to it (the
// state file was lost, say); one the ERP does not know becomes a new ERP
// customer on a platform that imports.
func (c *Connector) pullUnbound(ctx context.Context, s *site, id string) error {
	rec, err := s.p.Fetch(ctx, platform.Ref{ID: id})
	if platform.IsGone(err) || err == nil && rec.Inactive {
		return nil
	}
	if err != nil {
		return err
	}
	if k := rec.Customer.ERPKey; k != "" {
		defer c.locks.lockUntilSettled(ctx, k)()
		b, bound, err := c.binding(ctx, s, k)
		if err != nil {
			return err
		}
		if bound {
			c.log.Warn("platform record holds the key of an ERP customer bound to another record; left alone",
				"platform", s.name, "platform_id", id, "erp_key", k, "bound_to", b.ID)
			return nil
		}
		it, err := c.erp.Get(ctx, k)
		switch {
		case errors.Is(err, erp.ErrNotFound):
		case err != nil:
			return err
		case errFor(s.p.Name(), it.Customer, it.Err) == nil && s.p.Wants(it.Customer) && !it.Customer.Deleted:
			c.log.Info("binding a platform record to the ERP customer its key names", "platform", s.name, "platform_id", id, "erp_key", k)
			if err := c.apply(ctx, s, state.Binding{ERPKey: k, ID: id, Extra: rec.Ref.Extra}, it.Customer, rec); err != nil {
				return err
			}
			return c.trail(ctx, s, k, state.Event{Outcome: "adopted", ID: id, Reason: "the platform record names this ERP key"})
		default:
			return nil // the ERP does not want it on this platform
		}
	}
	if imp, ok := s.p.(platform.Importer); !ok || !imp.Importable(rec) {
		return nil
	}
	return c.importRecord(ctx, s, rec)
}

// apply merges a platform record into its bound ERP customer cur, records
// what the platform now holds, and sends back what the ERP owns (or cannot
// hold) and the platform shows differently.
func (c *Connector) apply(ctx context.Context, s *site, b state.Binding, cur mapping.Customer, rec platform.Record) error {
	key := b.ERPKey
	log := c.log.With("platform", s.name, "erp_key", key, "platform_id", rec.Ref.ID)
	cur.ERPKey = key
	cur.Normalize()
	carrier := s.p.Carrier()
	merged := carrier.Merge(cur, rec.Customer, rec.Partial, c.terms)
	stored, notation, err := c.takeIn(ctx, s, rec.Ref.ID, cur, merged)
	if err != nil {
		return err
	}
	// The platform holds its view of the record: remember its digest so the
	// ERP scan does not echo the change back. When the ERP keeps the values
	// of the fields the platform owns only in its own notation (a phone it
	// normalises), the ERP's form stands for the platform's there.
	plat := rec.Customer
	if notation {
		plat = carrier.Merge(plat, stored, rec.Partial, c.terms)
	}
	view := carrier.View(stored, plat, false, c.terms)
	viewDigest, err := s.p.Digest(view)
	if err != nil {
		return err
	}
	storedDigest, err := s.p.Digest(stored)
	if err != nil {
		return err
	}
	b.ID, b.Extra, b.PushedHash, b.SeenHash = rec.Ref.ID, rec.Ref.Extra, string(viewDigest), rec.Seen
	if err := c.putBinding(ctx, s, b); err != nil {
		return err
	}
	if err := c.ensureWrittenBack(ctx, s, stored, rec.Ref.ID); err != nil {
		return err
	}
	// What the ERP owns (or cannot hold) and the platform shows differently
	// goes back to the platform.
	if storedDigest != viewDigest && s.p.Wants(stored) && !stored.Deleted {
		log.Info("the ERP record differs from the platform after taking the change in; pushing the ERP's values",
			"fields", carrier.Differences(view, stored))
		return c.enqueuePush(ctx, s, stored)
	}
	return nil
}

// takeIn writes merged into the ERP when it differs from cur, and returns
// what the ERP kept (read back: that is what its change scan will see).
// notation reports that the ERP kept exactly what it had: the platform's
// values differ from the ERP's only in a notation the ERP normalises.
func (c *Connector) takeIn(ctx context.Context, s *site, id string, cur, merged mapping.Customer) (stored mapping.Customer, notation bool, err error) {
	if sameERPRecord(cur, merged) {
		c.count(ctx, s, s.dirPull(), "unchanged")
		return cur, false, nil
	}
	key := cur.ERPKey
	_, it, err := c.writeERP(ctx, merged)
	if err != nil {
		return cur, false, erpWriteErr("write a platform change to the ERP", err)
	}
	stored = it.Customer
	stored.ERPKey = key
	stored.Normalize()
	if sameERPRecord(stored, cur) {
		c.log.Debug("the ERP holds the platform's values in its own notation", "platform", s.name, "erp_key", key)
		c.count(ctx, s, s.dirPull(), "unchanged")
		return stored, true, nil
	}
	fields := s.p.Carrier().Differences(cur, stored)
	c.log.Info("took a platform change into the ERP", "platform", s.name, "erp_key", key, "platform_id", id, "fields", fields)
	c.count(ctx, s, s.dirPull(), "updated")
	return stored, false, c.trail(ctx, s, key, state.Event{Outcome: "pulled", ID: id,
		Reason: "took the platform's change into the ERP: " + strings.Join(fields, ", ")})
}

// importRecord makes a platform record the ERP does not know a new ERP
// customer, flagged for the platform and bound to the record, and gives
// the platform the new ERP key (and anything the ERP added) through the
// push path.
func (c *Connector) importRecord(ctx context.Context, s *site, rec platform.Record) error {
	incoming := rec.Customer
	incoming.Flags.Set(s.name, true)
	incoming.PlatformIDs.Set(s.name, rec.Ref.ID)
	key, it, err := c.writeERP(ctx, incoming)
	if err != nil {
		return erpWriteErr(fmt.Sprintf("create an ERP customer from %s record %s", s.name, rec.Ref.ID), err)
	}
	stored := it.Customer
	stored.ERPKey = key
	stored.Normalize()
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		if b, bound, err := tx.Binding(s.name, key); err != nil || !bound || b.ID == rec.Ref.ID {
			return err
		}
		// The key the ERP gave names a customer bound to another record:
		// binding it here would take that customer's record away.
		return apierr.Permanently(fmt.Errorf("connector: the ERP gave %s record %s the key %q, which names a customer bound to another record: "+
			"the ERP's keys must name one customer each", s.name, rec.Ref.ID, key))
	}); err != nil {
		return err
	}
	c.count(ctx, s, s.dirPull(), "created")
	c.log.Info("a platform record became a new ERP customer", "platform", s.name, "platform_id", rec.Ref.ID, "erp_key", key)
	if err := c.trail(ctx, s, key, state.Event{Outcome: "imported", ID: rec.Ref.ID,
		Reason: "a platform record the ERP did not know became a new ERP customer"}); err != nil {
		return err
	}
	view, err := s.p.Digest(s.p.Carrier().View(stored, rec.Customer, false, c.terms))
	if err != nil {
		return err
	}
	want, err := s.p.Prepare(stored)
	if err != nil || want == view {
		// Invalid for the platform (the ERP scan dead-letters it), or the
		// platform holds what the ERP would send.
		b := state.Binding{ERPKey: key, ID: rec.Ref.ID, Extra: rec.Ref.Extra, PushedHash: string(view), SeenHash: rec.Seen}
		return c.putBinding(ctx, s, b)
	}
	// Bound first, with no seen hash: if the update below fails, the next
	// pull takes the record in again and sends the ERP's values then.
	b := state.Binding{ERPKey: key, ID: rec.Ref.ID, Extra: rec.Ref.Extra, PushedHash: string(view)}
	if err := c.putBinding(ctx, s, b); err != nil {
		return err
	}
	// Give the platform the new ERP key (and anything the ERP added) now,
	// from the record just read.
	b.SeenHash = rec.Seen
	return c.update(ctx, s, b, stored, want, &rec)
}

// sameERPRecord reports whether two ERP records hold the same data (when
// it was last written aside, and the platform ids: those are the
// write-back's, ensureWrittenBack, and one read before a pending write-back
// landed and one read after must not look like a platform change).
func sameERPRecord(cur, merged mapping.Customer) bool {
	cur.UpdatedAt, merged.UpdatedAt = time.Time{}, time.Time{}
	cur.PlatformIDs, merged.PlatformIDs = mapping.PlatformIDs{}, mapping.PlatformIDs{}
	a, _ := json.Marshal(cur)
	b, _ := json.Marshal(merged)
	return slices.Equal(a, b)
}

// erpWriteErr wraps an ERP write error (marked as the ERP's: a platform's
// breaker ignores it); a record the ERP refuses as invalid will not get
// better by retrying.
func erpWriteErr(op string, err error) error {
	var ve *mapping.ValidationError
	if errors.As(err, &ve) {
		return apierr.Permanently(fmt.Errorf("connector: %s: %w", op, err))
	}
	return fmt.Errorf("connector: %s: %w", op, err)
}
