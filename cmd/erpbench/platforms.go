package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// The platforms of `erpbench chaos`.
const (
	platformONe         = "one"
	platformCustomerAPI = "customerapi"
)

// benchUser is the Customer API reference server's user: the connector
// logs in as it (its password is the run's random secret), and it owns the
// one organisation the server seeds.
const benchUser = "connector@erpbench.example.com"

// capiPageSize is the connector's Customer API page size: the most ids
// the reference server takes in one getBusinessesByBusinessUnitIds (the
// listing walk reads the businesses of a page's bound farms in one request;
// a larger page has the connector read every bound organisation one by
// one instead). The server lists up to 1000 organisations a page.
const capiPageSize = 500

// chaosPlatform is what the soaks need to know of one platform; everything
// else (the ERP, the connector runs, the kills, the faults' shape, the ERP
// and state-file checks) is shared.
type chaosPlatform struct {
	// name is the --platform value and the result's "platform".
	name string
	// label names the platform in the output.
	label string
	// soaks are the soaks that run against the platform.
	soaks []string
	// section is the connector configuration's section of the platform.
	section string
	// upstream names the connector's delivery pool and breaker (the
	// "upstream" label of its metrics).
	upstream string
	// jobPrefix starts the connector's job types and keys: dead letters of
	// pushes are of type <prefix>.push with keys <prefix>:push:<ERP key>.
	jobPrefix string
	// idColumn is the ERP column the platform id is written back to, for
	// the platform erpPlatform (as the ERP adapters name it).
	idColumn    string
	erpPlatform mapping.Platform
	// createOps are the operations that create platform records, the
	// record itself first (the kill soak follows that one's count).
	createOps []string
	// listOp is the listing the connector reads to look records up.
	listOp string
	// records names what the server holds; identities what must be
	// distinct among them.
	records, identities string
	// gen shapes the generated ERP rows (Seed and InvalidEvery are the
	// soak's; Kinds are the defects the platform refuses, since a field
	// keeps a customer from a platform only if the platform receives it);
	// flag sets a row's sync flags.
	gen  erpgen.Options
	flag func(r *erpgen.Record)
	// start starts the reference server child with secret (the API key
	// or the password).
	start func(ctx context.Context, o benchOptions, dir, name, secret string) (*serverProc, error)
	// configure turns the configuration writeConfigWith makes (an ONe
	// section) into the platform's only.
	configure func(doc map[string]any, url, secret string, workers int)
	// faultRules are the faults soak's rules.
	faultRules func(now time.Time, full bool) []fault.Rule
	// badInputOps are the operations whose answers the bad-input soak
	// breaks.
	badInputOps []string
	// verifyServer reads what the server holds into res and checks it
	// against the ERP (ids are the platform ids written back, by ERP key).
	verifyServer func(ctx context.Context, e *soakEnv, ids map[string]string, res *ChaosResult) error
}

func (p *chaosPlatform) pushType() string { return p.jobPrefix + ".push" }
func (p *chaosPlatform) pushKey() string  { return p.jobPrefix + ":push:" }

// onePlatform is ONe: clients with the ERP key as external id.
var onePlatform = &chaosPlatform{
	name: platformONe, label: "ONe", soaks: allSoaks,
	section: "one", upstream: "one", jobPrefix: "one", idColumn: erpgen.ONeIDColumn, erpPlatform: mapping.PlatformONe,
	createOps: []string{"createClient"}, listOp: "listClients",
	records: "clients", identities: "external ids",
	gen:   erpgen.Options{Kinds: erpgen.InvalidFor(mapping.PlatformONe)},
	flag:  func(r *erpgen.Record) { r.SyncONe, r.SyncCustomerAPI = true, false },
	start: startServer,
	configure: func(doc map[string]any, _, _ string, _ int) {
		// The server's largest page: a look-up by external id (after an
		// unknown outcome or a 409) pages through every client.
		doc["one"].(map[string]any)["page_size"] = oneapitest.MaxPageSize
	},
	faultRules: func(now time.Time, full bool) []fault.Rule {
		// The feed is polled once, outside the queue, before delivery.
		return shapedFaultRules(now, full, "createClient", "getClientSyncFeed")
	},
	badInputOps:  []string{"createClient", "listClients", "getClient", "updateClient", "updateClientFinanceData"},
	verifyServer: verifyClients,
}

// customerAPIPlatform is the Customer API: organisations, unique by name
// and company number, with a farm business unit for a farm.
var customerAPIPlatform = &chaosPlatform{
	name: platformCustomerAPI, label: "Customer API", soaks: []string{soakKill, soakFaults, soakBadInput},
	section: "customer_api", upstream: "customer", jobPrefix: "capi", idColumn: erpgen.CustomerAPIColumn, erpPlatform: mapping.PlatformCustomerAPI,
	createOps: []string{"createOrganisation", "createBusinessUnit"}, listOp: "listOrganisations",
	records: "organisations", identities: "names and company numbers",
	// UK farms only (the platform takes GB, US, ZA and FR organisations
	// with an owner), each with its own owner e-mail and name + company
	// number (the platform refuses duplicates of both).
	gen:  erpgen.Options{UKFarmsOnly: true, UniqueOnPlatform: true, Kinds: erpgen.InvalidFor(mapping.PlatformCustomerAPI)},
	flag: func(r *erpgen.Record) { r.SyncONe, r.SyncCustomerAPI = false, true },
	start: func(ctx context.Context, o benchOptions, dir, name, secret string) (*serverProc, error) {
		return startServerChild(ctx, o, dir, name, secret,
			"serve-customer", "--listen", "127.0.0.1:0", "--user", benchUser, "--seed", fmt.Sprint(o.seed))
	},
	configure: func(doc map[string]any, url, secret string, workers int) {
		delete(doc, "one")
		doc["customer_api"] = map[string]any{
			"base_url":  url,
			"username":  benchUser,
			"password":  secret,
			"page_size": capiPageSize,
			"upstream":  map[string]any{"workers": workers},
		}
	},
	faultRules: func(now time.Time, full bool) []fault.Rule {
		// The listing walk (the organisation pages and the businesses of
		// their farms) runs once per run, outside the queue, as ONe's
		// feed poll does; its first request shares the run's login.
		return shapedFaultRules(now, full, "createOrganisation",
			"listOrganisations", "getBusinessesByBusinessUnitIds", "login")
	},
	badInputOps:  []string{"createOrganisation", "createBusinessUnit", "getOrganisation", "getOrganisationsByIds", "updateOrganisation", "updateBusinessUnit", "listOrganisations"},
	verifyServer: verifyOrganisations,
}

// chaosPlatforms are the platforms in the order "all" runs them.
var chaosPlatforms = []*chaosPlatform{onePlatform, customerAPIPlatform}

// platformNames lists the platforms' names.
func platformNames() []string {
	out := make([]string, 0, len(chaosPlatforms))
	for _, p := range chaosPlatforms {
		out = append(out, p.name)
	}
	return out
}

// shapedFaultRules are the faults soak's rules, first match wins: latency
// only on the unfaulted operations, even in the outage (what a run reads
// once, outside the queue, may wait out Retry-After pauses into the
// outage: under load the Customer API's listing walk did, and its 503
// failed the run); the outage; 10 % 500/502/503 without Retry-After, 5 %
// 429 with Retry-After 1-3 s, 1 % of the creates (createOp) dropped after
// commit, latency 0-200 ms on every request. The probabilities of the
// later rules are conditional on the earlier ones not firing, so that the
// shares are of all requests.
func shapedFaultRules(now time.Time, full bool, createOp string, unfaulted ...string) []fault.Rule {
	lat := fault.Duration(200 * time.Millisecond)
	outageFrom, outage := 3*time.Second, 5*time.Second
	if full {
		outageFrom, outage = 20*time.Second, 30*time.Second
	}
	third := 0.10 / 3
	p429 := 0.05 / 0.90
	pDrop := 0.01 / 0.85
	var rules []fault.Rule
	for _, op := range unfaulted {
		rules = append(rules, fault.Rule{Operation: op, LatencyMax: lat})
	}
	return append(rules,
		// The outage: every other operation, 503 without Retry-After, as a
		// load balancer in front of a dead backend answers.
		fault.Rule{Operation: "*", From: now.Add(outageFrom), Until: now.Add(outageFrom + outage), Status: http.StatusServiceUnavailable},
		fault.Rule{Operation: "*", Probability: third, Status: http.StatusInternalServerError, LatencyMax: lat},
		fault.Rule{Operation: "*", Probability: third / (1 - third), Status: http.StatusBadGateway, LatencyMax: lat},
		fault.Rule{Operation: "*", Probability: third / (1 - 2*third), Status: http.StatusServiceUnavailable, LatencyMax: lat},
		fault.Rule{Operation: "*", Probability: p429, Status: http.StatusTooManyRequests, RetryAfter: 1, RetryAfterMax: 3, LatencyMax: lat},
		fault.Rule{Operation: createOp, Probability: pDrop, DropAfterCommit: true, LatencyMax: lat},
		fault.Rule{Operation: "*", LatencyMax: lat},
	)
}

// verifyClients checks ONe: one client per valid row, with distinct
// external ids.
func verifyClients(ctx context.Context, e *soakEnv, _ map[string]string, res *ChaosResult) error {
	var err error
	res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, e.srv.url, e.key)
	if err != nil {
		return err
	}
	if res.Clients != len(e.valid) {
		res.violate("clients: the server holds %d clients, want %d (the valid rows)", res.Clients, len(e.valid))
	}
	if res.DistinctExternalIDs != res.Clients {
		res.violate("distinct_external_ids: %d distinct external ids among %d clients", res.DistinctExternalIDs, res.Clients)
	}
	return nil
}

// verifyOrganisations checks the Customer API: leaving out the bench
// user's own organisation, exactly one organisation per valid row (by its
// name and company number, as the platform holds them unique), none for
// any other, each the one whose id the row has written back, and every
// farm row's organisation with exactly one farm business unit (carrying
// the farm's business), every other row's with none.
func verifyOrganisations(ctx context.Context, e *soakEnv, ids map[string]string, res *ChaosResult) error {
	api, err := customerapi.New(customerapi.Options{BaseURL: e.srv.url, Timeout: time.Minute,
		Credentials: customerapi.Credentials{Username: benchUser, Password: e.key}})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	me, err := api.GetCurrentOrganisation(ctx)
	if err != nil {
		return fmt.Errorf("verify: the bench user's organisation: %w", err)
	}
	byIdentity := map[string][]customerapi.Organisation{}
	for o, err := range api.AllOrganisations(ctx, customerapi.OrganisationQuery{Limit: capiPageSize}) {
		if err != nil {
			return fmt.Errorf("verify: list organisations: %w", err)
		}
		if o.ID == me.ID {
			continue
		}
		res.Clients++
		id := capiIdentity(o.Name, orgCompanyNumber(o))
		byIdentity[id] = append(byIdentity[id], o)
	}
	res.DistinctExternalIDs = len(byIdentity)
	valid := len(e.valid)
	if res.Clients != valid {
		res.violate("clients: the server holds %d organisations, want %d (the valid rows)", res.Clients, valid)
	}
	if res.DistinctExternalIDs != res.Clients {
		res.violate("distinct_external_ids: %d distinct names and company numbers among %d organisations", res.DistinctExternalIDs, res.Clients)
	}

	custs, err := e.customers(ctx)
	if err != nil {
		return err
	}
	var missing, several, wrongID, noFarm, extraFarm []string
	wanted := map[string]bool{}
	for key := range e.valid {
		c, ok := custs[key]
		if !ok {
			missing = append(missing, key+" (not readable from the ERP)")
			continue
		}
		id := capiIdentity(c.Name, c.CompanyNumber)
		wanted[id] = true
		orgs := byIdentity[id]
		switch {
		case len(orgs) == 0:
			missing = append(missing, key)
			continue
		case len(orgs) > 1:
			several = append(several, fmt.Sprintf("%s: %d", key, len(orgs)))
		}
		o := orgs[0]
		if got := ids[key]; got != "" && len(orgs) == 1 && got != o.ID {
			wrongID = append(wrongID, fmt.Sprintf("%s: %s, its organisation is %s", key, got, o.ID))
		}
		units, withBusiness := 0, 0
		for _, u := range o.BusinessUnits {
			if u.Type == string(customerapi.BusinessUnitFarm) {
				units++
				if u.Business != "" {
					withBusiness++
				}
			}
		}
		if mapping.HasFarm(c) {
			res.FarmRows++
			res.FarmUnits += units
			if units != 1 || withBusiness != 1 {
				noFarm = append(noFarm, fmt.Sprintf("%s: %d farm units, %d with a business", key, units, withBusiness))
			}
		} else if units != 0 {
			extraFarm = append(extraFarm, fmt.Sprintf("%s: %d", key, units))
		}
	}
	var stray []string
	for id, orgs := range byIdentity {
		if !wanted[id] {
			for _, o := range orgs {
				stray = append(stray, fmt.Sprintf("%s (%s)", o.ID, o.Name))
			}
		}
	}
	if len(missing) > 0 {
		res.violate("clients: %d valid rows have no organisation with their name and company number (%s)", len(missing), sample(missing))
	}
	if len(several) > 0 {
		res.violate("clients: %d valid rows have several organisations with their name and company number (%s)", len(several), sample(several))
	}
	if len(stray) > 0 {
		res.violate("clients: %d organisations match no valid ERP row (%s)", len(stray), sample(stray))
	}
	if len(wrongID) > 0 {
		res.violate("bound_rows: %d rows have another organisation's id written back (%s)", len(wrongID), sample(wrongID))
	}
	if len(noFarm) > 0 {
		res.violate("farm_units: %d farm rows' organisations lack exactly one farm business unit with a business (%s)", len(noFarm), sample(noFarm))
	}
	if len(extraFarm) > 0 {
		res.violate("farm_units: %d rows that are no farm have farm business units (%s)", len(extraFarm), sample(extraFarm))
	}
	return nil
}

// capiIdentity is what the Customer API holds unique: the name and the
// company number, case and surrounding spaces ignored.
func capiIdentity(name, number string) string {
	return strings.ToLower(strings.TrimSpace(name)) + "|" + strings.ToLower(strings.TrimSpace(number))
}

// orgCompanyNumber is an organisation's company number as the platform
// compares it for duplicates.
func orgCompanyNumber(o customerapi.Organisation) string {
	if o.Company != nil && o.Company.Number != "" {
		return o.Company.Number
	}
	return o.CompanyNumber
}

// erpCustomers reads every valid ERP customer through the demo layout's
// rules, by key (rows the rules cannot read are left out).
func erpCustomers(ctx context.Context, path string) (map[string]mapping.Customer, error) {
	t, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", path, erpTable), nil)
	if err != nil {
		return nil, fmt.Errorf("verify: erp: %w", err)
	}
	defer t.Close()
	out := map[string]mapping.Customer{}
	for cursor := ""; ; {
		page, err := t.Changes(ctx, cursor, 1000)
		if err != nil {
			return nil, fmt.Errorf("verify: read erp: %w", err)
		}
		for _, it := range page.Items {
			if it.Err == nil {
				out[it.Key] = it.Customer
			}
		}
		cursor = page.Cursor
		if !page.More || len(page.Items) == 0 {
			return out, nil
		}
	}
}

// serveCustomerMain is the hidden `serve-customer` subcommand: the
// Customer API reference server (no faults, no limits) with one user, on
// loopback, served as serve-one serves ONe.
func serveCustomerMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve-customer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	user := fs.String("user", "", "user as EMAIL (its password from $"+apiKeyEnv+") or EMAIL=PASSWORD")
	seed := fs.Uint64("seed", 1, "seed for generated ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	email, password, ok := strings.Cut(*user, "=")
	if !ok {
		password = os.Getenv(apiKeyEnv)
	}
	if email == "" || password == "" {
		return errors.New("serve-customer: --user: want EMAIL with $" + apiKeyEnv + " set, or EMAIL=PASSWORD")
	}
	srv, err := customerapitest.Open(customerapitest.Options{Users: map[string]string{email: password}, Seed: *seed})
	if err != nil {
		return fmt.Errorf("serve-customer: %w", err)
	}
	defer srv.Close()
	return serveLoopback(ctx, "serve-customer", *listen, srv, stdout)
}

// The Customer API's sizes that differ from ONe's (see chaosHelp).
const (
	capiQuickFaults  = 100
	capiFullKill     = 20000
	capiFullFaults   = 1500
	capiFullBadInput = 20000
)
