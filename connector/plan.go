package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
)

// Plan actions.
const (
	PlanCreate      = "create"       // ERP customer missing on the platform: would be created
	PlanAdopt       = "adopt"        // unbound, but the platform holds its record: would be bound
	PlanUpdate      = "update"       // the ERP changed since the last push: would be sent
	PlanDelete      = "delete"       // unflagged or deleted in the ERP: the platform record would be deleted
	PlanDeactivate  = "deactivate"   // unflagged or deleted in the ERP: the platform record would be deactivated
	PlanUnbind      = "unbind"       // unflagged or deleted in the ERP: the link would be dropped
	PlanUnlink      = "unlink"       // gone or deactivated on the platform: the ERP would forget its id
	PlanMarkDeleted = "mark-deleted" // gone or deactivated on the platform: the ERP customer would be marked deleted
	PlanReject      = "reject"       // invalid ERP record: would go to the dead letters
	PlanImport      = "import"       // platform record unknown to the ERP: would become an ERP customer
	PlanPull        = "pull"         // the platform changed since the connector last took it in
	PlanConflict    = "conflict"     // changed on both sides since the last sync: ownership decides
	PlanUnchanged   = "unchanged"    // nothing to do
)

// PlanItem is one record's planned action.
type PlanItem struct {
	Action     string `json:"action"`
	ERPKey     string `json:"erp_key,omitempty"`
	PlatformID string `json:"platform_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Fields names the fields that differ (updates, pulls, conflicts).
	Fields []string `json:"fields,omitempty"`
}

// PlanReport is what a sync would do on one platform, without doing it.
type PlanReport struct {
	Platform string         `json:"platform"`
	Counts   map[string]int `json:"counts"`
	// Items lists the records that need an action (at most Limit of them).
	Items     []PlanItem `json:"items"`
	Truncated bool       `json:"truncated,omitempty"`
}

// Plan is what a sync would do on every platform planned.
type Plan struct {
	Platforms []PlanReport `json:"platforms"`
}

func (r *PlanReport) add(it PlanItem, limit int) {
	r.Counts[it.Action]++
	if it.Action == PlanUnchanged {
		return
	}
	if len(r.Items) < limit {
		r.Items = append(r.Items, it)
	} else {
		r.Truncated = true
	}
}

// Plan compares the ERP with each given platform (every configured one when
// none is given) in full and reports what a sync would create, update,
// adopt, delete or deactivate, reject, import, pull and where both sides
// changed. It writes nothing. limit caps the listed items per platform (0:
// 1000).
func (c *Connector) Plan(ctx context.Context, limit int, platforms ...mapping.Platform) (Plan, error) {
	var out Plan
	if len(platforms) == 0 {
		for _, s := range c.sites {
			platforms = append(platforms, s.name)
		}
	}
	if limit <= 0 {
		limit = 1000
	}
	for _, p := range platforms {
		s := c.site(p)
		if s == nil {
			return out, fmt.Errorf("connector: plan: %s is not configured", p)
		}
		rep, err := c.planSite(ctx, s, limit)
		if err != nil {
			return out, err
		}
		out.Platforms = append(out.Platforms, rep)
	}
	return out, nil
}

// planSide is what the platform side of a plan found.
type planSide struct {
	bound      map[string]platform.Record // bound ERP key → its record
	byIdentity map[string]string          // identity of an unbound record → its id
}

func (c *Connector) planSite(ctx context.Context, s *site, limit int) (PlanReport, error) {
	rep := PlanReport{Platform: string(s.name), Counts: map[string]int{}}
	side, err := c.planPlatformSide(ctx, s, &rep, limit)
	if err != nil {
		return rep, err
	}
	read := c.erpPager(nil)
	if read == nil {
		return rep, errors.New("connector: plan: the ERP adapter cannot list its customers")
	}
	for after := ""; ; {
		its, last, listed, err := read(ctx, after)
		if err != nil {
			return rep, fmt.Errorf("connector: plan: %w", err)
		}
		for _, it := range its {
			item, err := c.planItem(ctx, s, it, side)
			if err != nil {
				return rep, err
			}
			rep.add(item, limit)
		}
		if listed < c.cfg.ERP.PageSize {
			return rep, nil
		}
		after = last
	}
}

// planPlatformSide walks the platform's listing: bound records, identities
// of unbound ones (adoptions), and records the ERP would take in.
func (c *Connector) planPlatformSide(ctx context.Context, s *site, rep *PlanReport, limit int) (planSide, error) {
	side := planSide{bound: map[string]platform.Record{}, byIdentity: map[string]string{}}
	imp, importer := s.p.(platform.Importer)
	for cursor := ""; ; {
		page, err := c.list(ctx, s, cursor)
		if err != nil {
			return side, fmt.Errorf("connector: plan: list %s: %w", s.name, err)
		}
		for _, rec := range page.Records {
			var key string
			var bound, tomb bool
			if err := c.state.View(ctx, func(tx *state.Tx) error {
				key, bound = tx.KeyOf(s.name, rec.Ref.ID)
				_, tomb = tx.Tombstoned(s.name, rec.Ref.ID)
				return nil
			}); err != nil {
				return side, err
			}
			if bound {
				side.bound[key] = rec
				continue
			}
			side.byIdentity[s.p.Identity(rec.Customer)] = rec.Ref.ID
			if tomb || rec.Inactive || !importer || !imp.Importable(rec) {
				continue
			}
			if k := rec.Customer.ERPKey; k != "" {
				if _, err := c.erp.Get(ctx, k); err == nil {
					continue // the ERP knows it: bound on the next pull
				} else if !errors.Is(err, erp.ErrNotFound) {
					return side, err
				}
			}
			rep.add(PlanItem{Action: PlanImport, PlatformID: rec.Ref.ID, ERPKey: rec.Customer.ERPKey, Reason: "unknown to the ERP"}, limit)
		}
		if page.Next == "" {
			return side, nil
		}
		cursor = page.Next
	}
}

// planItem plans one ERP customer on one platform.
func (c *Connector) planItem(ctx context.Context, s *site, it erp.Item, side planSide) (PlanItem, error) {
	b, bound, err := c.binding(ctx, s, it.Key)
	if err != nil {
		return PlanItem{}, err
	}
	item := PlanItem{ERPKey: it.Key, PlatformID: b.ID, Action: PlanUnchanged}
	p, err := classify(s, it)
	if err != nil {
		return PlanItem{}, err
	}
	rec, listed := side.bound[it.Key]
	switch {
	case p.Op == opInvalid:
		if s.p.Wants(p.Customer) || bound {
			item.Action, item.Reason = PlanReject, p.Reason
		}
	case p.Op == opUnflag:
		if bound {
			item.Action = map[platform.Policy]string{platform.PolicyUnbind: PlanUnbind, platform.PolicyDelete: PlanDelete,
				platform.PolicyDeactivate: PlanDeactivate}[s.onUnflag]
			item.Reason = "unflagged or deleted in the ERP"
		}
	case bound && (!listed || rec.Inactive):
		item.Action, item.Reason = PlanCreate, "bound record gone from the platform: created again"
		if s.onDelete == "mark-deleted" {
			item.Action, item.Reason = PlanMarkDeleted, "bound record gone from the platform"
		} else if rec.Inactive {
			item.Action, item.Reason = PlanUnlink, "bound record deactivated on the platform"
		}
	case !bound:
		item.Action, item.Reason = PlanCreate, "missing on the platform"
		if id := side.byIdentity[s.p.Identity(p.Customer)]; id != "" {
			item.Action, item.PlatformID, item.Reason = PlanAdopt, id, "the platform holds a record with its identity"
		}
	default:
		return c.planBound(s, b, p, rec)
	}
	return item, nil
}

// planBound plans a bound, listed, valid and flagged ERP customer: what
// changed on each side since the last sync.
func (c *Connector) planBound(s *site, b state.Binding, p pushPayload, rec platform.Record) (PlanItem, error) {
	item := PlanItem{ERPKey: b.ERPKey, PlatformID: b.ID, Action: PlanUnchanged}
	cust := p.Customer
	cust.Normalize()
	view := s.p.Carrier().View(cust, rec.Customer, false, c.terms)
	vd, err := s.p.Digest(view)
	if err != nil {
		return item, err
	}
	erpChanged, platformChanged := !s.pushed(b, p.Hash, cust), !s.pushed(b, string(vd), view)
	item.Fields = s.p.Carrier().Differences(view, cust)
	switch {
	case erpChanged && platformChanged:
		item.Action, item.Reason = PlanConflict, "changed in the ERP and on the platform"
	case erpChanged:
		item.Action, item.Reason = PlanUpdate, "changed in the ERP"
	case platformChanged:
		item.Action, item.Reason = PlanPull, "changed on the platform"
	default:
		item.Fields = nil
	}
	return item, nil
}
