package connector

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
)

// Plan actions.
const (
	PlanCreate    = "create"    // ERP customer missing on the platform: would be created
	PlanAdopt     = "adopt"     // unbound, but the platform has a record with its key: would be bound
	PlanUpdate    = "update"    // the ERP changed since the last push: would be sent
	PlanDelete    = "delete"    // unflagged or deleted in the ERP: the platform record would be deleted
	PlanUnbind    = "unbind"    // unflagged or deleted in the ERP: the link would be dropped
	PlanReject    = "reject"    // invalid ERP record: would go to the dead letters
	PlanImport    = "import"    // platform record unknown to the ERP: would become an ERP customer
	PlanPull      = "pull"      // the platform changed since the connector last took it in
	PlanConflict  = "conflict"  // changed on both sides since the last sync: ownership decides
	PlanUnchanged = "unchanged" // nothing to do
)

// PlanItem is one record's planned action.
type PlanItem struct {
	Action     string `json:"action"`
	ERPKey     string `json:"erp_key,omitempty"`
	PlatformID string `json:"platform_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// PlanReport is what a sync would do, without doing it.
type PlanReport struct {
	Platform string         `json:"platform"`
	Counts   map[string]int `json:"counts"`
	// Items lists the records that need an action (at most Limit of them).
	Items     []PlanItem `json:"items"`
	Truncated bool       `json:"truncated,omitempty"`
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

// PlanONe compares the ERP and ONe in full and reports what a sync would
// create, update, adopt, delete, reject, import and where both sides
// changed. It writes nothing. limit caps the listed items (0: 1000).
func (c *Connector) PlanONe(ctx context.Context, limit int) (PlanReport, error) {
	rep := PlanReport{Platform: string(mapping.PlatformONe), Counts: map[string]int{}}
	if c.cfg.ONe == nil {
		return rep, errors.New("connector: ONe is not configured")
	}
	if limit <= 0 {
		limit = 1000
	}
	// The platform side first: which external ids exist, what changed there.
	byExternal := map[string]string{}
	platformRec := map[string]mapping.Customer{} // bound ERP key → the platform's record
	for cl, err := range c.one.AllClients(ctx, c.cfg.ONe.PageSize) {
		if err != nil {
			return rep, fmt.Errorf("connector: plan: list ONe clients: %w", err)
		}
		if cl.ExternalID != "" {
			byExternal[cl.ExternalID] = cl.ID
		}
		var key string
		var bound bool
		if err := c.store.View(ctx, func(tx *bolt.Tx) error {
			key, bound = c.bind.byID(tx, mapping.PlatformONe, cl.ID)
			return nil
		}); err != nil {
			return rep, err
		}
		switch {
		case !bound && cl.ExternalID == "":
			rep.add(PlanItem{Action: PlanImport, PlatformID: cl.ID, Reason: "registered on the platform"}, limit)
		case !bound:
			if _, err := c.erp.Get(ctx, cl.ExternalID); errors.Is(err, erp.ErrNotFound) {
				rep.add(PlanItem{Action: PlanImport, PlatformID: cl.ID, ERPKey: cl.ExternalID, Reason: "external id unknown to the ERP"}, limit)
			} else if err != nil {
				return rep, err
			}
		default:
			incoming := mapping.FromONe(cl)
			incoming.Normalize()
			platformRec[key] = incoming
		}
	}
	// The ERP side.
	lister, ok := c.erp.(erp.KeyLister)
	if !ok {
		return rep, errors.New("connector: plan: the ERP adapter cannot list its keys")
	}
	after := ""
	for {
		keys, err := lister.ListKeys(ctx, after, c.cfg.ERP.PageSize)
		if err != nil {
			return rep, fmt.Errorf("connector: plan: list ERP keys: %w", err)
		}
		for _, key := range keys {
			it, err := c.erp.Get(ctx, key)
			if errors.Is(err, erp.ErrNotFound) {
				continue
			}
			if err != nil {
				return rep, err
			}
			item, err := c.planItemONe(ctx, key, it, byExternal, platformRec)
			if err != nil {
				return rep, err
			}
			rep.add(item, limit)
		}
		if len(keys) < c.cfg.ERP.PageSize {
			break
		}
		after = keys[len(keys)-1]
	}
	return rep, nil
}

func (c *Connector) planItemONe(ctx context.Context, key string, it erp.Item, byExternal map[string]string,
	platformRec map[string]mapping.Customer) (PlanItem, error) {
	b, bound, err := c.binding(ctx, mapping.PlatformONe, key)
	if err != nil {
		return PlanItem{}, err
	}
	cust := it.Customer
	cust.Normalize()
	// The platform changed since the last push or pull when its view of the
	// record no longer hashes to what the connector recorded.
	platformChanged := false
	if p, ok := platformRec[key]; ok && bound {
		vh, err := mapping.HashONe(onePlatformView(cust, p))
		if err != nil {
			return PlanItem{}, err
		}
		platformChanged = vh != b.PushedHash
	} else if bound {
		item := PlanItem{ERPKey: key, PlatformID: b.ID, Reason: "bound client missing on the platform"}
		if cust.Flags.ONe && !cust.Deleted {
			item.Action = PlanCreate
		} else {
			item.Action = PlanUnbind
		}
		return item, nil
	}
	item := PlanItem{ERPKey: key, PlatformID: b.ID}
	switch {
	case it.Err != nil && (cust.Flags.ONe || bound):
		item.Action, item.Reason = PlanReject, it.Err.Error()
	case it.Err != nil:
		item.Action = PlanUnchanged
	case cust.Deleted || !cust.Flags.ONe:
		switch {
		case !bound:
			item.Action = PlanUnchanged
		case c.cfg.ONe.OnUnflag == "delete":
			item.Action, item.Reason = PlanDelete, "unflagged or deleted in the ERP"
		default:
			item.Action, item.Reason = PlanUnbind, "unflagged or deleted in the ERP"
		}
	default:
		if verr := mapping.ValidateONe(cust); verr != nil {
			item.Action, item.Reason = PlanReject, verr.Error()
			break
		}
		h, err := mapping.HashONe(cust)
		if err != nil {
			return PlanItem{}, err
		}
		switch {
		case !bound && byExternal[key] != "":
			item.Action, item.PlatformID, item.Reason = PlanAdopt, byExternal[key], "the platform has a client with this external id"
		case !bound:
			item.Action, item.Reason = PlanCreate, "missing on the platform"
		case b.PushedHash != h && platformChanged:
			item.Action, item.Reason = PlanConflict, "changed in the ERP and on the platform"
		case b.PushedHash != h:
			item.Action, item.Reason = PlanUpdate, "changed in the ERP"
		case platformChanged:
			item.Action, item.Reason = PlanPull, "changed on the platform"
		default:
			item.Action = PlanUnchanged
		}
	}
	return item, nil
}
