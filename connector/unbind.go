package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The ends of a binding, the same for every platform:
//
//	the ERP unflags, deletes or loses a bound customer
//	                 → the platform's unflag policy (unbind, or delete /
//	                   deactivate the platform record); the record is
//	                   tombstoned: a later change to it is never taken in
//	                   as a new ERP customer (a hard-deleted ERP row is not
//	                   resurrected from the platform side)
//	the platform deletes or deactivates a bound record
//	                 → the platform's delete policy in the ERP (unlink the
//	                   platform id, or mark the customer deleted)

// binding reads the binding of an ERP key on a site's platform.
func (c *Connector) binding(ctx context.Context, s *site, key string) (state.Binding, bool, error) {
	var b state.Binding
	var ok bool
	err := c.state.View(ctx, func(tx *state.Tx) error {
		var err error
		b, ok, err = tx.Binding(s.name, key)
		return err
	})
	return b, ok, err
}

// putBinding stores a binding; in a delivery it commits with the job's
// settlement (no commit of its own), elsewhere batched with other writers.
func (c *Connector) putBinding(ctx context.Context, s *site, b state.Binding) error {
	return c.state.Defer(ctx, func(tx *state.Tx) error {
		_, err := tx.PutBinding(s.name, b)
		return err
	})
}

// deferJobs queues jobs with the handler's bindings, never before them: a
// job must find the binding this handler wrote.
func (c *Connector) deferJobs(ctx context.Context, jobs ...queue.Job) error {
	stampRun(ctx, jobs)
	if err := c.state.Defer(ctx, func(tx *state.Tx) error { return tx.Enqueue(jobs...) }); err != nil {
		return err
	}
	c.noteQueued(ctx, jobs)
	return nil
}

// enqueuePush queues a push of the ERP's values (after a pull or an
// import), unless the record is invalid for the platform: the ERP scan
// dead-letters that.
func (c *Connector) enqueuePush(ctx context.Context, s *site, cust mapping.Customer) error {
	d, err := s.p.Prepare(cust)
	if err != nil {
		if apierr.Classify(err) == apierr.Permanent {
			return nil
		}
		return err
	}
	job, err := s.pushJob(pushPayload{Op: opUpsert, Customer: cust, Hash: string(d)}, queue.LaneLive)
	if err != nil {
		return err
	}
	return c.deferJobs(ctx, job)
}

// unbindByERP applies the platform's unflag policy to a customer the ERP
// unflagged or deleted (gone: the ERP row no longer exists).
func (c *Connector) unbindByERP(ctx context.Context, s *site, key string, gone bool) error {
	b, bound, err := c.binding(ctx, s, key)
	if err != nil || !bound {
		return err
	}
	log := c.log.With("platform", s.name, "erp_key", key, "platform_id", b.ID)
	outcome := "unbound"
	if s.onUnflag != platform.PolicyUnbind {
		if err := s.p.Remove(ctx, platform.Ref{ID: b.ID, Extra: b.Extra}, s.onUnflag); err != nil && !platform.IsGone(err) {
			return err
		}
		outcome = map[platform.Policy]string{platform.PolicyDelete: "deleted", platform.PolicyDeactivate: "deactivated"}[s.onUnflag]
	}
	if !gone {
		if err := c.erp.Unlink(ctx, key, s.name); err != nil && !errors.Is(err, erp.ErrNotFound) {
			return fmt.Errorf("connector: unlink ERP customer: %w", err)
		}
	}
	c.count(ctx, s, s.dirPush(), outcome)
	log.Info("the ERP no longer sends the customer; "+outcome, "policy", s.onUnflag, "erp_row_gone", gone)
	why := "the ERP no longer flags the customer for the platform"
	if gone {
		why = "the ERP row is gone"
	}
	if err := c.trail(ctx, s, key, state.Event{Outcome: outcome, ID: b.ID, Reason: why}); err != nil {
		return err
	}
	return c.state.Defer(ctx, func(tx *state.Tx) error {
		if err := tx.RemoveBinding(s.name, key); err != nil {
			return err
		}
		return tx.Tombstone(s.name, b.ID, key)
	})
}

// unbindByPlatform applies the platform's delete policy in the ERP when a
// bound record (id) is gone from the platform or deactivated there.
func (c *Connector) unbindByPlatform(ctx context.Context, s *site, key, id, why string) error {
	var err error
	outcome := "unlinked"
	if s.onDelete == "mark-deleted" {
		err, outcome = c.erp.MarkDeleted(ctx, key), "marked_deleted"
	} else {
		err = c.erp.Unlink(ctx, key, s.name)
	}
	if err != nil && !errors.Is(err, erp.ErrNotFound) {
		return fmt.Errorf("connector: apply a platform delete to the ERP: %w", err)
	}
	c.count(ctx, s, s.dirPull(), outcome)
	c.log.Info("the platform record is "+why+"; "+outcome+" in the ERP", "platform", s.name, "erp_key", key,
		"platform_id", id, "policy", s.onDelete)
	if err := c.trail(ctx, s, key, state.Event{Outcome: outcome, ID: id, Reason: "the platform record is " + why}); err != nil {
		return err
	}
	return c.state.Defer(ctx, func(tx *state.Tx) error { return tx.RemoveBinding(s.name, key) })
}
