package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The Customer API pipelines.
//
//	ERP → Customer API   the ERP scans (planCAPI) queue capi.push jobs: a
//	                     flagged customer becomes an organisation with, for a
//	                     farm, a farm business unit; later changes patch both.
//	Customer API → ERP   the platform has no change feed: pullCAPI lists the
//	                     organisations page by page and queues a capi.pull job
//	                     for each bound organisation whose listing changed; the
//	                     job reads it whole and merges it into the ERP record by
//	                     field ownership. Organisations not bound to an ERP
//	                     customer (the connector's own, those created on the
//	                     platform) are left alone: the ERP decides which
//	                     customers exist there, and the platform does not carry
//	                     the ERP's customer type or key.
//	certificates         refreshCertificates queues a capi.cert job for every
//	                     bound farm; the job looks its Red Tractor certificate up
//	                     and writes status, identifier and expiry to the ERP.

// Job types of the Customer API pipelines.
const (
	jobCAPIPush = "capi.push" // ERP → Customer API: organisation (+ farm business unit)
	jobCAPIPull = "capi.pull" // Customer API → ERP: one organisation
	jobCAPICert = "capi.cert" // Red Tractor certificate enrichment of one ERP customer
)

// Keys of a Customer API binding's Extra.
const (
	extraOrganisationID = "organisationId"
	extraBusinessUnitID = "businessUnitId"
	extraListHash       = "listHash"
	extraFarm           = "farm" // "1" when the customer is a farm (certificate refresh)
)

// capiBatch is how many jobs one transaction of a listing or certificate run queues.
const capiBatch = 500

// certExpired is the status the connector gives a certificate the
// platform no longer reports as Valid or Grace.
const certExpired = "Expired"

// capiPullPayload is the payload of a capi.pull job.
type capiPullPayload struct {
	OrganisationID string `json:"organisationId"`
	// ListHash is the hash of the organisation as the listing showed it;
	// stored once the organisation is taken in.
	ListHash string `json:"listHash,omitempty"`
}

// capiCertPayload is the payload of a capi.cert job.
type capiCertPayload struct {
	ERPKey string `json:"erpKey"`
}

func capiPushKey(erpKey string) string { return "capi:push:" + erpKey }
func capiPullKey(orgID string) string  { return "capi:pull:" + orgID }
func capiCertKey(erpKey string) string { return "capi:cert:" + erpKey }

// planCAPI decides the Customer API job (if any) one ERP item needs,
// reading the binding inside tx.
func (c *Connector) planCAPI(tx *bolt.Tx, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, error) {
	return c.planPush(tx, capiPush, it, kind, lane)
}

// handleCAPI delivers one Customer API job.
func (c *Connector) handleCAPI(ctx context.Context, job queue.Job) error {
	switch job.Type {
	case jobCAPIPush:
		var p pushPayload
		if err := json.Unmarshal(job.Payload, &p); err != nil {
			return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
		}
		err := c.pushCAPI(ctx, job, p)
		c.m.outcome("erp_to_capi", p.Op, err)
		return err
	case jobCAPIPull:
		var p capiPullPayload
		if err := json.Unmarshal(job.Payload, &p); err != nil {
			return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
		}
		err := c.pullOneCAPI(ctx, p)
		c.m.outcome("capi_to_erp", "pull", err)
		return err
	case jobCAPICert:
		var p capiCertPayload
		if err := json.Unmarshal(job.Payload, &p); err != nil {
			return apierr.Permanently(fmt.Errorf("connector: decode job: %w", err))
		}
		err := c.certCAPI(ctx, p)
		c.m.outcome("capi_certificates", "certificate", err)
		return err
	}
	return apierr.Permanently(fmt.Errorf("connector: unknown job type %q", job.Type))
}

// updateCAPIBinding reads, changes and stores the Customer API binding of
// key in one transaction, so that concurrent jobs never lose each other's
// fields. Without a binding, fn runs on a new one only when create is set.
func (c *Connector) updateCAPIBinding(ctx context.Context, key string, create bool, fn func(b *Binding)) error {
	return c.store.Update(ctx, func(tx *bolt.Tx) error {
		b, ok, err := c.bind.get(tx, mapping.PlatformCustomerAPI, key)
		if err != nil {
			return err
		}
		if !ok {
			if !create {
				return nil
			}
			b = Binding{ERPKey: key}
		}
		if b.Extra == nil {
			b.Extra = map[string]string{}
		}
		fn(&b)
		_, err = c.bind.put(tx, mapping.PlatformCustomerAPI, b, c.now())
		return err
	})
}

func farmFlag(cust mapping.Customer) string {
	if mapping.HasFarm(cust) {
		return "1"
	}
	return ""
}

// pushCAPI delivers one capi.push job.
func (c *Connector) pushCAPI(ctx context.Context, job queue.Job, p pushPayload) error {
	key := p.Customer.ERPKey
	defer c.locks.lock(key)()
	log := c.log.With("erp_key", key)
	switch p.Op {
	case opInvalid:
		// A record the platform would refuse: straight to the dead letters
		// with its field errors. A later change of the ERP record queues it again.
		return apierr.Permanently(fmt.Errorf("connector: ERP customer %q is invalid for the Customer API: %s", key, p.Reason))
	case opUnflag:
		return c.unflagCAPI(ctx, key)
	case opUpsert:
	default:
		return apierr.Permanently(fmt.Errorf("connector: unknown push op %q", p.Op))
	}
	b, bound, err := c.binding(ctx, mapping.PlatformCustomerAPI, key)
	if err != nil {
		return err
	}
	if p.Version != 0 && bound && b.Version >= p.Version {
		log.Debug("resync copy is older than the live change; skipped")
		return nil
	}
	if bound && b.PushedHash == p.Hash {
		return nil
	}
	cust := p.Customer
	if bound {
		cust.PlatformIDs.CustomerAPI = b.ID
		_, err := c.capi.UpdateOrganisation(ctx, b.ID, mapping.ToCustomerAPIOrganisationPatch(cust))
		switch {
		case apierr.IsNotFound(err):
			// Gone from the platform while the ERP still asks for it: create it again.
			log.Info("bound Customer API organisation is gone; creating it again", "organisation_id", b.ID)
			bound = false
		case err != nil:
			return err
		default:
			buID, err := c.pushFarmCAPI(ctx, b.ID, b.Extra[extraBusinessUnitID], cust, job.OutcomeUnknown)
			if err != nil {
				return err
			}
			c.st.count("erp_to_capi", "updated")
			return c.updateCAPIBinding(ctx, key, false, func(nb *Binding) {
				if buID != "" {
					nb.Extra[extraBusinessUnitID] = buID
				}
				nb.Extra[extraFarm] = farmFlag(cust)
				nb.PushedHash = p.Hash
			})
		}
	}

	// Create, safely: when an earlier attempt may have created the
	// organisation, look it up first and adopt it.
	var org *customerapi.Organisation
	adopted := false
	if id := cust.PlatformIDs.CustomerAPI; id != "" {
		// The ERP already links an organisation (the state file was lost,
		// say): take it back when it is still there and nobody else's.
		if org, err = c.linkedCAPIOrganisation(ctx, key, id); err != nil {
			return err
		}
		if org != nil {
			log.Info("adopting the organisation the ERP links", "organisation_id", org.ID)
			adopted = true
		}
	}
	if org == nil && job.OutcomeUnknown {
		if org, err = c.findCAPIOrganisation(ctx, key, cust); err != nil {
			return err
		}
		if org != nil {
			log.Info("adopting the organisation an earlier attempt created", "organisation_id", org.ID)
			adopted = true
		}
	}
	if org == nil {
		created, err := c.capi.CreateOrganisation(ctx, mapping.ToCustomerAPIOrganisation(cust))
		switch {
		case apierr.IsConflict(err):
			found, ferr := c.findCAPIOrganisation(ctx, key, cust)
			if ferr != nil {
				return ferr
			}
			if found == nil {
				return err // e.g. the owner's e-mail belongs to another user: the reason goes to the dead letters
			}
			log.Info("an organisation with this name and company number exists; adopting it", "organisation_id", found.ID)
			org, adopted = found, true
		case err != nil:
			return err
		default:
			org = created
		}
	}
	// Bind at once: whatever fails below, a retry updates this organisation
	// instead of creating another.
	if err := c.updateCAPIBinding(ctx, key, true, func(nb *Binding) {
		nb.ID = org.ID
		nb.Extra = map[string]string{extraOrganisationID: org.ID}
		nb.PushedHash, nb.SeenHash = "", ""
	}); err != nil {
		return err
	}
	if cust.PlatformIDs.CustomerAPI != org.ID {
		if err := c.queueWriteBack(ctx, key, mapping.PlatformCustomerAPI, org.ID); err != nil && !errors.Is(err, erp.ErrNotFound) {
			return fmt.Errorf("connector: write back Customer API id: %w", err)
		}
	}
	var buID string
	if adopted {
		c.st.count("erp_to_capi", "adopted")
		farm, err := c.findFarmCAPI(ctx, org.ID, cust.Name)
		if err != nil {
			return err
		}
		if farm != nil {
			buID = farm.ID
		}
		// Bring the adopted organisation up to date, unless it is.
		view, err := mapping.HashCustomerAPI(capiPlatformView(cust, mapping.FromCustomerAPI(*org, farm)))
		if err != nil {
			return err
		}
		if view != p.Hash {
			if _, err := c.capi.UpdateOrganisation(ctx, org.ID, mapping.ToCustomerAPIOrganisationPatch(cust)); err != nil {
				return err
			}
			if buID, err = c.pushFarmCAPI(ctx, org.ID, buID, cust, true); err != nil {
				return err
			}
		}
	} else {
		c.st.count("erp_to_capi", "created")
		if buID, err = c.pushFarmCAPI(ctx, org.ID, "", cust, job.OutcomeUnknown); err != nil {
			return err
		}
	}
	return c.updateCAPIBinding(ctx, key, false, func(nb *Binding) {
		if buID != "" {
			nb.Extra[extraBusinessUnitID] = buID
		}
		nb.Extra[extraFarm] = farmFlag(cust)
		nb.PushedHash = p.Hash
	})
}

// pushFarmCAPI sends a farm customer's farm business unit: an update when
// its id is known, else a safe create: with lookFirst (an earlier attempt
// may have created it) an existing farm unit is looked up first, and a unit
// the platform refuses as a duplicate name is adopted. It returns the
// unit's id ("" for a customer without a farm).
func (c *Connector) pushFarmCAPI(ctx context.Context, orgID, buID string, cust mapping.Customer, lookFirst bool) (string, error) {
	if !mapping.HasFarm(cust) {
		return buID, nil
	}
	cust.PlatformIDs.CustomerAPI = orgID
	patch, _ := mapping.ToCustomerAPIFarmPatch(cust)
	if buID != "" {
		_, err := c.capi.UpdateBusinessUnit(ctx, buID, patch)
		if err == nil {
			return buID, nil
		}
		if !apierr.IsNotFound(err) {
			return "", err
		}
		c.log.Info("farm business unit is gone; creating it again", "erp_key", cust.ERPKey, "business_unit_id", buID)
	}
	adopt := func(u *customerapi.BusinessUnit) (string, error) {
		c.log.Info("adopting the farm business unit", "erp_key", cust.ERPKey, "business_unit_id", u.ID)
		if _, err := c.capi.UpdateBusinessUnit(ctx, u.ID, patch); err != nil {
			return "", err
		}
		return u.ID, nil
	}
	if lookFirst || buID != "" {
		u, err := c.findFarmCAPI(ctx, orgID, cust.Name)
		if err != nil {
			return "", err
		}
		if u != nil {
			return adopt(u)
		}
	}
	req, _ := mapping.ToCustomerAPIFarm(cust)
	created, err := c.capi.CreateBusinessUnit(ctx, req)
	switch {
	case apierr.IsConflict(err):
		u, ferr := c.findFarmCAPI(ctx, orgID, cust.Name)
		if ferr != nil {
			return "", ferr
		}
		if u == nil {
			return "", err
		}
		return adopt(u)
	case err != nil:
		return "", err
	}
	return created.ID, nil
}

// findFarmCAPI returns the farm business unit of an organisation (the one
// named name first), or nil.
func (c *Connector) findFarmCAPI(ctx context.Context, orgID, name string) (*customerapi.BusinessUnit, error) {
	units, err := c.capi.BusinessUnits(ctx, orgID, nil)
	if err != nil {
		return nil, fmt.Errorf("connector: look up farm of organisation %s: %w", orgID, err)
	}
	return mapping.FarmBusinessUnit(units.BusinessUnits, name), nil
}

// orgCompanyNumber is the company number of an organisation as the
// platform compares it for duplicates.
func orgCompanyNumber(o customerapi.Organisation) string {
	if o.Company != nil && o.Company.Number != "" {
		return o.Company.Number
	}
	return o.CompanyNumber
}

// findCAPIOrganisation looks for the organisation of an ERP customer by
// name and company number (what the platform holds unique). An
// organisation bound to another ERP customer is never adopted. It is used
// only when a create's outcome is unknown or refused as a duplicate.
func (c *Connector) findCAPIOrganisation(ctx context.Context, key string, cust mapping.Customer) (*customerapi.Organisation, error) {
	name := strings.TrimSpace(cust.Name)
	q := customerapi.OrganisationQuery{Limit: c.cfg.CustomerAPI.PageSize, Query: name}
	for o, err := range c.capi.AllOrganisations(ctx, q) {
		if err != nil {
			return nil, fmt.Errorf("connector: look up Customer API organisation for %q: %w", key, err)
		}
		if !strings.EqualFold(strings.TrimSpace(o.Name), name) || !strings.EqualFold(orgCompanyNumber(o), cust.CompanyNumber) {
			continue
		}
		var other string
		var taken bool
		if err := c.store.View(ctx, func(tx *bolt.Tx) error {
			other, taken = c.bind.byID(tx, mapping.PlatformCustomerAPI, o.ID)
			return nil
		}); err != nil {
			return nil, err
		}
		if taken && other != key {
			continue
		}
		return &o, nil
	}
	return nil, nil
}

// linkedCAPIOrganisation returns the organisation id when it exists and
// is not bound to another ERP customer, else nil.
func (c *Connector) linkedCAPIOrganisation(ctx context.Context, key, id string) (*customerapi.Organisation, error) {
	var other string
	var taken bool
	if err := c.store.View(ctx, func(tx *bolt.Tx) error {
		other, taken = c.bind.byID(tx, mapping.PlatformCustomerAPI, id)
		return nil
	}); err != nil {
		return nil, err
	}
	if taken && other != key {
		return nil, nil
	}
	org, err := c.capi.GetOrganisation(ctx, id)
	switch {
	case apierr.IsNotFound(err), apierr.StatusOf(err) == http.StatusForbidden:
		return nil, nil // gone, or out of the connector's reach: create a new one
	case err != nil:
		return nil, err
	}
	return org, nil
}

// unflagCAPI forgets the organisation of a customer the ERP no longer
// sends. The Customer API offers no organisation delete to the connector:
// the organisation stays on the platform, unbound.
func (c *Connector) unflagCAPI(ctx context.Context, key string) error {
	_, bound, err := c.binding(ctx, mapping.PlatformCustomerAPI, key)
	if err != nil || !bound {
		return err
	}
	if err := c.store.Update(ctx, func(tx *bolt.Tx) error { return c.bind.remove(tx, mapping.PlatformCustomerAPI, key) }); err != nil {
		return err
	}
	c.st.count("erp_to_capi", "unbound")
	if err := c.erp.Unlink(ctx, key, mapping.PlatformCustomerAPI); err != nil && !errors.Is(err, erp.ErrNotFound) {
		return fmt.Errorf("connector: unlink ERP customer: %w", err)
	}
	return nil
}

// capiListView is what a listing shows of an organisation that the
// connector cares about: its canonical content and its business units.
type capiListView struct {
	Customer      mapping.Customer              `json:"customer"`
	BusinessUnits []customerapi.BusinessUnitRef `json:"businessUnits"`
}

// capiListHash is the listing-level content hash of an organisation. The
// listing carries no farm business (only the units' names and ids), so a
// change made only to a farm's business is not seen by it.
func capiListHash(o customerapi.Organisation) (string, error) {
	return mapping.ContentHash(capiListView{Customer: mapping.FromCustomerAPI(o, nil), BusinessUnits: o.BusinessUnits})
}

// pullCAPI lists every organisation the connector can see, page by page,
// and queues a capi.pull job for each one bound to an ERP customer whose
// listing changed since it was last taken in. Unbound organisations are
// left alone (see the pipeline notes above).
func (c *Connector) pullCAPI(ctx context.Context) (int, error) {
	queued := 0
	var batch []customerapi.Organisation
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// Hash outside the write transaction: it holds the state file's only writer.
		hashes := make([]string, len(batch))
		for i, o := range batch {
			h, err := capiListHash(o)
			if err != nil {
				return err
			}
			hashes[i] = h
		}
		n := 0
		err := c.store.Update(ctx, func(tx *bolt.Tx) error {
			n = 0
			var jobs []queue.Job
			for i, o := range batch {
				h := hashes[i]
				key, bound := c.bind.byID(tx, mapping.PlatformCustomerAPI, o.ID)
				if !bound {
					continue
				}
				b, ok, err := c.bind.get(tx, mapping.PlatformCustomerAPI, key)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if b.Extra[extraListHash] == h {
					continue
				}
				payload, err := json.Marshal(capiPullPayload{OrganisationID: o.ID, ListHash: h})
				if err != nil {
					return fmt.Errorf("connector: encode job: %w", err)
				}
				jobs = append(jobs, queue.Job{Type: jobCAPIPull, Key: capiPullKey(o.ID), Payload: payload, Lane: queue.LaneLive})
			}
			n = len(jobs)
			return c.store.EnqueueTx(tx, jobs...)
		})
		if err != nil {
			return fmt.Errorf("connector: queue Customer API changes: %w", err)
		}
		queued += n
		c.m.queued.WithLabelValues("capi_to_erp").Add(float64(n))
		batch = batch[:0]
		return nil
	}
	q := customerapi.OrganisationQuery{Limit: c.cfg.CustomerAPI.PageSize, SortBy: "createdAtUTC"}
	for o, err := range c.capi.AllOrganisations(ctx, q) {
		if err != nil {
			return queued, fmt.Errorf("connector: list Customer API organisations: %w", err)
		}
		batch = append(batch, o)
		if len(batch) >= c.cfg.CustomerAPI.PageSize {
			if err := flush(); err != nil {
				return queued, err
			}
		}
	}
	return queued, flush()
}

// pullOneCAPI takes one bound organisation into the ERP.
func (c *Connector) pullOneCAPI(ctx context.Context, p capiPullPayload) error {
	log := c.log.With("organisation_id", p.OrganisationID)
	var key string
	var bound bool
	if err := c.store.View(ctx, func(tx *bolt.Tx) error {
		key, bound = c.bind.byID(tx, mapping.PlatformCustomerAPI, p.OrganisationID)
		return nil
	}); err != nil {
		return err
	}
	if !bound {
		return nil // unbound since it was listed
	}
	defer c.locks.lock(key)()
	log = log.With("erp_key", key)
	b, bound, err := c.binding(ctx, mapping.PlatformCustomerAPI, key)
	if err != nil || !bound {
		return err
	}
	org, err := c.capi.GetOrganisation(ctx, p.OrganisationID)
	if apierr.IsNotFound(err) {
		log.Info("bound Customer API organisation is gone; unlinking the ERP customer")
		if err := c.store.Update(ctx, func(tx *bolt.Tx) error { return c.bind.remove(tx, mapping.PlatformCustomerAPI, key) }); err != nil {
			return err
		}
		c.st.count("capi_to_erp", "unlinked")
		if err := c.erp.Unlink(ctx, key, mapping.PlatformCustomerAPI); err != nil && !errors.Is(err, erp.ErrNotFound) {
			return fmt.Errorf("connector: unlink ERP customer: %w", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	it, err := c.erp.Get(ctx, key)
	if errors.Is(err, erp.ErrNotFound) {
		log.Warn("bound ERP customer is gone; forgetting the organisation")
		return c.store.Update(ctx, func(tx *bolt.Tx) error { return c.bind.remove(tx, mapping.PlatformCustomerAPI, key) })
	}
	if err != nil {
		return err
	}
	units, err := c.capi.BusinessUnits(ctx, org.ID, nil)
	if err != nil {
		return err
	}
	bu := farmUnit(units.BusinessUnits, b.Extra[extraBusinessUnitID], it.Customer.Name)
	incoming := mapping.FromCustomerAPI(*org, bu)
	seen, err := mapping.ContentHash(incoming)
	if err != nil {
		return err
	}
	if b.SeenHash == seen {
		c.st.count("capi_to_erp", "unchanged")
		// Nothing changed on the platform since the connector last took this in.
		return c.updateCAPIBinding(ctx, key, false, func(nb *Binding) { nb.Extra[extraListHash] = p.ListHash })
	}

	// A push that completes while this pull reads the platform changes
	// PushedHash: the read may then be older than the push, so it is not
	// applied (the next listing shows the organisation again).
	pushed := b.PushedHash
	moved := func() (bool, error) {
		nb, ok, err := c.binding(ctx, mapping.PlatformCustomerAPI, key)
		return !ok || nb.PushedHash != pushed, err
	}
	cur := it.Customer
	cur.Normalize()
	merged := c.cfg.mergeCAPI(cur, incoming, bu != nil)
	stored := cur
	if !sameERPRecord(cur, merged) {
		if m, err := moved(); err != nil || m {
			log.Debug("a push reached the platform while it was read; not applied")
			return err
		}
		log.Info("taking a Customer API change into the ERP", "fields", diffFields(cur, merged))
		if _, err := c.erp.Upsert(ctx, merged); err != nil {
			return erpWriteErr("write Customer API change to the ERP", err)
		}
		// Read back what the ERP kept: that is what its change scan will see.
		it, err := c.erp.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("connector: read back ERP customer: %w", err)
		}
		stored = it.Customer
		stored.Normalize()
		c.st.count("capi_to_erp", "updated")
	} else {
		c.st.count("capi_to_erp", "unchanged")
	}
	// The platform now holds the platform view of the record; remember its
	// hash so the ERP scan does not echo the change back.
	viewHash, err := mapping.HashCustomerAPI(capiPlatformView(stored, incoming))
	if err != nil {
		return err
	}
	raced := true // also when the binding went away meanwhile
	if err := c.updateCAPIBinding(ctx, key, false, func(nb *Binding) {
		if nb.PushedHash != pushed {
			return
		}
		raced = false
		nb.PushedHash, nb.SeenHash = viewHash, seen
		nb.Extra[extraListHash] = p.ListHash
		if bu != nil {
			nb.Extra[extraBusinessUnitID] = bu.ID
		}
		nb.Extra[extraFarm] = farmFlag(stored)
	}); err != nil {
		return err
	}
	if raced {
		log.Debug("a push reached the platform while it was read; hashes left to the push")
		return nil
	}
	// What the ERP owns and the platform shows differently goes back to the platform.
	storedHash, err := mapping.HashCustomerAPI(stored)
	if err != nil {
		return err
	}
	if storedHash != viewHash && stored.Flags.CustomerAPI && !stored.Deleted {
		log.Info("ERP record differs from the Customer API after taking the change in; pushing the ERP's values",
			"fields", diffFields(mapping.ToCustomerAPIPayload(stored), mapping.ToCustomerAPIPayload(capiPlatformView(stored, incoming))))
		return c.enqueueCAPIPush(ctx, stored, storedHash)
	}
	return nil
}

// farmUnit picks the farm business unit of a bound customer: the one the
// connector created (id), else the farm named after the customer, else the first.
func farmUnit(units []customerapi.BusinessUnit, id, name string) *customerapi.BusinessUnit {
	if id != "" {
		for i := range units {
			if u := &units[i]; u.ID == id && u.Type == customerapi.BusinessUnitFarm && u.Business != nil {
				return u
			}
		}
	}
	return mapping.FarmBusinessUnit(units, name)
}

// erpWriteErr wraps an ERP write error; a record the ERP refuses as invalid
// will not get better by retrying.
func erpWriteErr(op string, err error) error {
	var ve *mapping.ValidationError
	if errors.As(err, &ve) {
		return apierr.Permanently(fmt.Errorf("connector: %s: %w", op, err))
	}
	return fmt.Errorf("connector: %s: %w", op, err)
}

// enqueueCAPIPush queues a push of the ERP's values to the Customer API.
func (c *Connector) enqueueCAPIPush(ctx context.Context, cust mapping.Customer, hash string) error {
	if err := mapping.ValidateCustomerAPI(cust); err != nil {
		return nil // invalid for the Customer API; the ERP scan dead-letters it
	}
	payload, err := json.Marshal(pushPayload{Op: opUpsert, Customer: cust, Hash: hash})
	if err != nil {
		return fmt.Errorf("connector: encode job: %w", err)
	}
	return c.store.Enqueue(ctx, queue.Job{Type: jobCAPIPush, Key: capiPushKey(cust.ERPKey), Payload: payload, Lane: queue.LaneLive})
}

// refreshCertificates queues a certificate look-up for every ERP customer
// bound to the Customer API that is a farm, in batches, on the backfill
// lane (enrichment yields to live changes).
func (c *Connector) refreshCertificates(ctx context.Context) (int, error) {
	var keys []string
	if err := c.store.View(ctx, func(tx *bolt.Tx) error {
		return c.bind.each(tx, mapping.PlatformCustomerAPI, func(b Binding) error {
			if b.Extra[extraFarm] == "1" {
				keys = append(keys, b.ERPKey)
			}
			return nil
		})
	}); err != nil {
		return 0, fmt.Errorf("connector: read Customer API bindings: %w", err)
	}
	queued := 0
	for start := 0; start < len(keys); start += capiBatch {
		part := keys[start:min(start+capiBatch, len(keys))]
		jobs := make([]queue.Job, 0, len(part))
		for _, k := range part {
			payload, err := json.Marshal(capiCertPayload{ERPKey: k})
			if err != nil {
				return queued, fmt.Errorf("connector: encode job: %w", err)
			}
			jobs = append(jobs, queue.Job{Type: jobCAPICert, Key: capiCertKey(k), Payload: payload, Lane: queue.LaneBackfill})
		}
		if err := c.store.Update(ctx, func(tx *bolt.Tx) error { return c.store.EnqueueTx(tx, jobs...) }); err != nil {
			return queued, fmt.Errorf("connector: queue certificate look-ups: %w", err)
		}
		queued += len(jobs)
		c.m.queued.WithLabelValues("capi_certificates").Add(float64(len(jobs)))
	}
	return queued, nil
}

// certQuery is the certificate look-up of a farm: by holding number, or by
// billing postcode when it has none. ok is false for a customer that is no
// farm or has neither.
func certQuery(cust mapping.Customer, country string) (customerapi.CertificateQuery, bool) {
	if !mapping.HasFarm(cust) {
		return customerapi.CertificateQuery{}, false
	}
	if h := strings.TrimSpace(cust.Farm.HoldingNumber); h != "" {
		return customerapi.CertificateQuery{Country: country, HoldingNumber: h}, true
	}
	if pc := strings.TrimSpace(cust.Billing.Postcode); pc != "" {
		return customerapi.CertificateQuery{Country: country, Postcode: pc}, true
	}
	return customerapi.CertificateQuery{}, false
}

// withCertificate returns cust with the certificate the look-up found
// (found) applied or, when none covers the farm any more, a live status
// (Valid, Grace) turned into Expired: the platform reports only valid and
// grace certificates.
func withCertificate(cust mapping.Customer, cert customerapi.Certificate, found bool) mapping.Customer {
	out := cust.Clone()
	if found {
		if mapping.ApplyCertificate(&out, cert) {
			return out
		}
	}
	switch out.Farm.CertificateStatus {
	case string(customerapi.CertificateValid), string(customerapi.CertificateGrace):
		out.Farm.CertificateStatus = certExpired
	}
	return out
}

// certCAPI refreshes the Red Tractor certificate of one ERP customer and
// writes it to the ERP only when its status, identifier or expiry changed.
func (c *Connector) certCAPI(ctx context.Context, p capiCertPayload) error {
	defer c.locks.lock(p.ERPKey)()
	it, err := c.erp.Get(ctx, p.ERPKey)
	if errors.Is(err, erp.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if it.Err != nil {
		return nil // the ERP scan dead-letters an invalid record
	}
	q, ok := certQuery(it.Customer, c.cfg.CustomerAPI.CertificateCountry)
	if !ok {
		return nil
	}
	certs, err := c.capi.RedTractorCertificates(ctx, q)
	if err != nil {
		return err
	}
	cert, found := mapping.PickCertificate(it.Customer, certs)
	if certificateOf(withCertificate(it.Customer, cert, found)) == certificateOf(it.Customer) {
		c.st.count("capi_certificates", "unchanged")
		return nil
	}
	// Read the record again just before writing, so the write carries the
	// ERP's latest values.
	it, err = c.erp.Get(ctx, p.ERPKey)
	if err != nil {
		if errors.Is(err, erp.ErrNotFound) {
			return nil
		}
		return err
	}
	cur := it.Customer
	cur.Normalize()
	next := withCertificate(cur, cert, found)
	if certificateOf(next) == certificateOf(cur) {
		c.st.count("capi_certificates", "unchanged")
		return nil
	}
	c.log.Info("certificate changed", "erp_key", p.ERPKey, "status", next.Farm.CertificateStatus, "expiry", next.Farm.CertificateExpiry)
	if _, err := c.erp.Upsert(ctx, next); err != nil {
		return erpWriteErr("write certificate to the ERP", err)
	}
	c.st.count("capi_certificates", "updated")
	return nil
}
