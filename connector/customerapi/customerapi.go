// Package customerapi is the Customer API platform of the sync engine: ERP
// customers become organisations with, for a farm, a farm business unit
// (its business holds the holding number, assurance scheme, location and
// the Red Tractor certificate); the platform has no change feed, so the
// engine walks its organisation listing (each page with the businesses of
// the bound farms, in one request more); Red Tractor certificates enrich
// the ERP's farms. It knows the Customer API and the mapping, nothing of
// the queue or the state file.
//
// Organisations the ERP does not know are left alone: the platform does not
// carry the ERP's key or customer type, and it shows the connector's own
// organisation and those of other platform users, so it is not an Importer.
package customerapi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	capi "github.com/erpconnector/erpconnector/customerapi"
	"golang.org/x/sync/errgroup"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// Interface guards.
var (
	_ platform.Platform = (*Platform)(nil)
	_ platform.Enricher = (*Platform)(nil)
)

// Ref.Extra keys.
const (
	// ExtraBusinessUnitID is the id of the farm business unit.
	ExtraBusinessUnitID = "businessUnitId"
	// ExtraFarm is "1" for a farm (its certificate is refreshed).
	ExtraFarm = "farm"
)

// Digest parts.
const (
	partOrganisation = 0
	partFarm         = 1
)

// businessBatch is the most business unit ids one read of businesses asks
// for (the ids travel in the query string).
const businessBatch = 100

// businessReads is how many reads of businesses one listing page has in
// flight at once.
const businessReads = 4

// Statuses of an organisation the connector sets.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Options configure the platform.
type Options struct {
	// Terms are the ownership and the fields the ERP holds.
	Terms mapping.Terms
	// PageSize is the page size of organisation listings.
	PageSize int
	// CertificateCountry is the ISO3 country of certificate look-ups.
	CertificateCountry string
	// Logger receives the platform's logs.
	Logger *slog.Logger
}

// Platform is the Customer API.
type Platform struct {
	api  *capi.Client
	opts Options
	log  *slog.Logger
}

// New returns the Customer API platform over api.
func New(api *capi.Client, opts Options) *Platform {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = capi.DefaultPageSize
	}
	if opts.CertificateCountry == "" {
		opts.CertificateCountry = "GBR"
	}
	return &Platform{api: api, opts: opts, log: log}
}

// Name implements platform.Platform.
func (p *Platform) Name() mapping.Platform { return mapping.PlatformCustomerAPI }

// Wants implements platform.Platform.
func (p *Platform) Wants(c mapping.Customer) bool { return c.Flags.CustomerAPI }

// Carrier implements platform.Platform.
func (p *Platform) Carrier() *mapping.Carrier { return mapping.CustomerAPICarrier }

// Identity implements platform.Platform: the platform holds an
// organisation's name and company number together unique.
func (p *Platform) Identity(c mapping.Customer) string {
	return strings.ToLower(strings.TrimSpace(c.Name)) + "|" + strings.ToLower(strings.TrimSpace(c.CompanyNumber))
}

// Digest implements platform.Platform.
func (p *Platform) Digest(c mapping.Customer) (mapping.Digest, error) {
	return mapping.DigestCustomerAPI(c)
}

// Prepare implements platform.Platform.
func (p *Platform) Prepare(c mapping.Customer) (mapping.Digest, error) {
	if err := mapping.ValidateCustomerAPI(c); err != nil {
		return "", err
	}
	return mapping.DigestCustomerAPI(c)
}

// raw is what a record read from the platform holds in the platform's own
// form (what a write carries over).
type raw struct {
	org  capi.Organisation
	farm *capi.BusinessUnit
}

// Create implements platform.Platform: the organisation, then, for a farm,
// its farm business unit. Both answers hold the record as the platform now
// shows it: the Seen comes from them.
func (p *Platform) Create(ctx context.Context, c mapping.Customer, want mapping.Digest) (platform.Written, error) {
	org, err := p.api.CreateOrganisation(ctx, mapping.ToCustomerAPIOrganisation(c))
	if err != nil {
		return platform.Written{}, err
	}
	ref := platform.Ref{ID: org.ID, Extra: map[string]string{}}
	if !mapping.HasFarm(c) {
		return platform.Written{Ref: ref, Have: want, Seen: seenOf(*org, nil)}, nil
	}
	farm, err := p.pushFarm(ctx, org.ID, nil, c)
	if err != nil {
		return platform.Written{Ref: ref, Have: mapping.Digest("").With(want, partOrganisation)}, err
	}
	ref.Extra[ExtraBusinessUnitID], ref.Extra[ExtraFarm] = farm.ID, "1"
	return platform.Written{Ref: ref, Have: want, Seen: seenOf(*org, farm)}, nil
}

// Update implements platform.Platform: the organisation when its part
// changed (or it is inactive: the ERP wants it again), the farm business
// unit when its part changed, each carrying over what the platform holds
// beside the connector's fields. The Seen comes from the answers, and from
// what was read for what was not written.
func (p *Platform) Update(ctx context.Context, ref platform.Ref, c mapping.Customer, want, have mapping.Digest, cur *platform.Record) (platform.Written, error) {
	out := platform.Written{Ref: ref, Have: have}
	if cur == nil {
		rec, err := p.Fetch(ctx, ref)
		if err != nil {
			return out, err
		}
		cur, out.Read = &rec, &rec
	}
	r, known := cur.Raw.(raw)
	out.Ref = platform.Ref{ID: ref.ID, Extra: maps.Clone(cur.Ref.Extra)}
	if out.Ref.Extra == nil {
		out.Ref.Extra = map[string]string{}
	}
	changed := want.Changed(have)
	body := mapping.CustomerAPICarrier.Overlay(c, cur.Customer, cur.Partial, p.opts.Terms)
	if changed[partOrganisation] || cur.Inactive {
		org, err := p.api.UpdateOrganisation(ctx, ref.ID, organisationPatch(body, r.org, cur.Inactive))
		if err != nil {
			return platform.Written{Ref: ref, Have: have, Read: out.Read}, p.gone(ctx, err, ref.ID)
		}
		out.Have = out.Have.With(want, partOrganisation)
		if org != nil && org.ID == ref.ID {
			r.org = *org
		} else {
			known = false // an answer without the organisation: the Seen is not known
		}
	}
	if changed[partFarm] && mapping.HasFarm(c) {
		farm, err := p.pushFarm(ctx, ref.ID, r.farm, body)
		if err != nil {
			return out, err
		}
		out.Ref.Extra[ExtraBusinessUnitID], out.Ref.Extra[ExtraFarm] = farm.ID, "1"
		r.farm = farm
	}
	out.Have = want
	if known {
		out.Seen = seenOf(r.org, r.farm)
	}
	return out, nil
}

// seenOf is the Seen of an organisation and its farm business unit (nil
// when it has none), as a List or Fetch reports it.
func seenOf(org capi.Organisation, farm *capi.BusinessUnit) string {
	rec, err := record(org, farm)
	if err != nil {
		return ""
	}
	return rec.Seen
}

// organisationPatch is the organisation update for c: the connector's
// fields over what the platform holds in the same objects (the company's
// bio, website, logo and assurances, the location's what3words and
// coordinates), so that replacing an object loses nothing.
func organisationPatch(c mapping.Customer, cur capi.Organisation, reactivate bool) capi.UpdateOrganisationRequest {
	patch := mapping.ToCustomerAPIOrganisationPatch(c)
	if cur.Company != nil {
		co := *cur.Company
		ours := patch.Company
		co.Number, co.SalesTaxID, co.HoldingNumber, co.AssuranceScheme, co.Sqc =
			ours.Number, ours.SalesTaxID, ours.HoldingNumber, ours.AssuranceScheme, ours.Sqc
		patch.Company = &co
	}
	if cur.Location != nil {
		loc := *cur.Location
		loc.Address = patch.Location.Address
		patch.Location = &loc
	}
	if reactivate {
		s := StatusActive
		patch.Status = &s
	}
	return patch
}

// Find implements platform.Platform: an organisation with c's name and
// company number (what the platform holds unique), not bound elsewhere.
func (p *Platform) Find(ctx context.Context, c mapping.Customer, _ time.Time, taken func(id string) bool) (*platform.Ref, error) {
	name := strings.TrimSpace(c.Name)
	want := p.Identity(c)
	q := capi.OrganisationQuery{Limit: p.opts.PageSize, Query: name}
	for o, err := range p.api.AllOrganisations(ctx, q) {
		if err != nil {
			return nil, fmt.Errorf("customerapi: look up the organisation of %q: %w", c.ERPKey, err)
		}
		if p.Identity(mapping.Customer{Name: o.Name, CompanyNumber: companyNumber(o)}) != want || taken(o.ID) {
			continue
		}
		return &platform.Ref{ID: o.ID, Extra: map[string]string{}}, nil
	}
	return nil, nil
}

// companyNumber is the company number of an organisation as the platform
// compares it for duplicates.
func companyNumber(o capi.Organisation) string {
	if o.Company != nil && o.Company.Number != "" {
		return o.Company.Number
	}
	return o.CompanyNumber
}

// Remove implements platform.Platform (PolicyDeactivate only): the
// organisation's status becomes inactive.
func (p *Platform) Remove(ctx context.Context, ref platform.Ref, policy platform.Policy) error {
	if policy != platform.PolicyDeactivate {
		return apierr.Permanently(fmt.Errorf("customerapi: unflag policy %q is not one of the Customer API's", policy))
	}
	s := StatusInactive
	if _, err := p.api.UpdateOrganisation(ctx, ref.ID, capi.UpdateOrganisationRequest{Status: &s}); err != nil {
		if platform.IsGone(p.gone(ctx, err, ref.ID)) {
			return nil
		}
		return err
	}
	return nil
}

// Fetch implements platform.Platform: the organisation and its business
// units (for the farm).
func (p *Platform) Fetch(ctx context.Context, ref platform.Ref) (platform.Record, error) {
	org, err := p.api.GetOrganisation(ctx, ref.ID)
	if err != nil {
		return platform.Record{}, p.gone(ctx, err, ref.ID)
	}
	units, err := p.api.BusinessUnits(ctx, org.ID, nil)
	if err != nil {
		return platform.Record{}, p.gone(ctx, err, ref.ID)
	}
	return record(*org, farmUnit(units.BusinessUnits, ref.Extra[ExtraBusinessUnitID], org.Name))
}

// gone turns the platform's answers for a missing organisation into
// platform.ErrGone. The contract documents no 404: a server may answer
// 400 or 403 for an id it does not know, so those are confirmed with a
// look-up by id before the organisation counts as gone.
func (p *Platform) gone(ctx context.Context, err error, id string) error {
	switch apierr.StatusOf(err) {
	case http.StatusNotFound:
		return platform.Gone("Customer API organisation " + id)
	case http.StatusBadRequest, http.StatusForbidden:
		recs, lerr := p.api.GetOrganisationsByIDs(ctx, []string{id})
		if lerr != nil {
			return err
		}
		for _, r := range recs {
			if r.ID == id {
				return err
			}
		}
		return platform.Gone("Customer API organisation " + id)
	}
	return err
}

// record is an organisation (and its farm business unit, nil when it has
// none) as the engine takes it in.
func record(org capi.Organisation, farm *capi.BusinessUnit) (platform.Record, error) {
	c := mapping.FromCustomerAPI(org, farm)
	inactive := strings.EqualFold(org.Status, StatusInactive)
	seen, err := mapping.ContentHash(struct {
		Customer mapping.Customer `json:"customer"`
		Inactive bool             `json:"inactive,omitempty"`
	}{c, inactive})
	if err != nil {
		return platform.Record{}, err
	}
	ref := platform.Ref{ID: org.ID, Extra: map[string]string{}}
	if farm != nil {
		ref.Extra[ExtraBusinessUnitID], ref.Extra[ExtraFarm] = farm.ID, "1"
	}
	return platform.Record{Ref: ref, Customer: c, Partial: farm == nil, Inactive: inactive, Seen: seen,
		Raw: raw{org: org, farm: farm}}, nil
}

// farmUnit picks the farm business unit of an organisation: the one bound
// (id), else the farm named after the organisation, else the first farm.
func farmUnit(units []capi.BusinessUnit, id, name string) *capi.BusinessUnit {
	if id != "" {
		for i := range units {
			if u := &units[i]; u.ID == id && u.Type == capi.BusinessUnitFarm && u.Business != nil {
				return u
			}
		}
	}
	return mapping.FarmBusinessUnit(units, name)
}

// List implements platform.Platform: one page of organisations (the cursor
// is the offset) with, for the organisations known to the engine, the
// business of their farm business unit, read in one request for the page.
func (p *Platform) List(ctx context.Context, cursor string, known func(string) (platform.Ref, bool)) (platform.Page, error) {
	offset := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return platform.Page{}, fmt.Errorf("customerapi: listing cursor %q: want an offset", cursor)
		}
		offset = n
	}
	orgs, err := p.api.ListOrganisations(ctx, capi.OrganisationQuery{Limit: p.opts.PageSize, Offset: offset, SortBy: "createdAtUTC"})
	if err != nil {
		return platform.Page{}, fmt.Errorf("customerapi: list organisations: %w", err)
	}
	known = knownOnce(known, len(orgs))
	farms, err := p.listedFarms(ctx, orgs, known)
	unread := false
	if err != nil {
		if apierr.Classify(err) != apierr.Permanent {
			return platform.Page{}, err
		}
		// A server without the batch read of businesses: the bound farms of
		// the page count as changed (each is read whole by its pull).
		p.log.Warn("the businesses of listed farms could not be read; their organisations are read one by one", "err", err)
		unread = true
	}
	out := platform.Page{Records: make([]platform.Record, 0, len(orgs))}
	for _, o := range orgs {
		r, err := record(o, farms[o.ID])
		if err != nil {
			return platform.Page{}, err
		}
		if _, ok := known(o.ID); !ok || unread {
			r.Seen = "" // its farm was not read
		}
		out.Records = append(out.Records, r)
	}
	if len(orgs) >= p.opts.PageSize {
		out.Next = strconv.Itoa(offset + len(orgs))
	}
	return out, nil
}

// NextCursor implements platform.Seeker: the listing's cursors are
// offsets, and a full page holds PageSize organisations.
func (p *Platform) NextCursor(cursor string) (string, bool) {
	offset := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return "", false
		}
		offset = n
	}
	return strconv.Itoa(offset + p.opts.PageSize), true
}

// knownOnce returns known remembering its answers, so that a page asks
// the state about each organisation once (the farms' read and the records
// both ask).
func knownOnce(known func(string) (platform.Ref, bool), n int) func(string) (platform.Ref, bool) {
	type answer struct {
		ref platform.Ref
		ok  bool
	}
	seen := make(map[string]answer, n)
	return func(id string) (platform.Ref, bool) {
		a, asked := seen[id]
		if !asked {
			a.ref, a.ok = known(id)
			seen[id] = a
		}
		return a.ref, a.ok
	}
}

// listedFarms reads the farm business of every known organisation of a
// listing page that has one, in one request, and returns the farm units
// by organisation id.
func (p *Platform) listedFarms(ctx context.Context, orgs []capi.Organisation, known func(string) (platform.Ref, bool)) (map[string]*capi.BusinessUnit, error) {
	units := map[string]capi.BusinessUnitRef{} // organisation id → its farm unit
	var ids []string
	for _, o := range orgs {
		ref, ok := known(o.ID)
		if !ok {
			continue
		}
		if u, ok := farmRef(o.BusinessUnits, ref.Extra[ExtraBusinessUnitID], o.Name); ok {
			units[o.ID] = u
			ids = append(ids, u.ID)
		}
	}
	out := map[string]*capi.BusinessUnit{}
	if len(ids) == 0 {
		return out, nil
	}
	// The batches are read side by side (a page of 500 farms is five
	// reads): against a platform's latency, one after the other they
	// would cost a round trip each.
	batches := make([][]capi.Business, (len(ids)+businessBatch-1)/businessBatch)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(businessReads)
	for i := range batches {
		batch := ids[i*businessBatch : min((i+1)*businessBatch, len(ids))]
		g.Go(func() error {
			biz, err := p.api.BusinessesByBusinessUnitIDs(gctx, batch)
			if err != nil {
				return fmt.Errorf("customerapi: read the businesses of listed farms: %w", err)
			}
			batches[i] = biz
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byUnit := map[string]*capi.Business{}
	for _, biz := range batches {
		for i := range biz {
			byUnit[biz[i].BusinessUnitID] = &biz[i]
		}
	}
	for orgID, u := range units {
		if b := byUnit[u.ID]; b != nil {
			out[orgID] = &capi.BusinessUnit{ID: u.ID, Name: u.Name, Type: capi.BusinessUnitFarm, Tags: slices.Clone(u.Tags), Business: b}
		}
	}
	return out, nil
}

// farmRef picks the farm unit of a listed organisation as farmUnit does:
// the bound one, else the farm named after the organisation, else the first.
func farmRef(units []capi.BusinessUnitRef, id, name string) (capi.BusinessUnitRef, bool) {
	var first *capi.BusinessUnitRef
	for i := range units {
		u := &units[i]
		if u.Type != string(capi.BusinessUnitFarm) || u.Business == "" {
			continue
		}
		if id != "" && u.ID == id {
			return *u, true
		}
		if first == nil {
			first = u
		}
	}
	for i := range units {
		u := &units[i]
		if u.Type == string(capi.BusinessUnitFarm) && u.Business != "" &&
			strings.EqualFold(strings.TrimSpace(u.Name), strings.TrimSpace(name)) {
			return *u, true
		}
	}
	if first == nil {
		return capi.BusinessUnitRef{}, false
	}
	return *first, true
}
