package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector/customerapi"
	"github.com/erpconnector/erpconnector/connector/platform"
	capi "github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// changeableFields lists the ERP columns `erpbench update` can change.
const changeableFields = "name, street, credit_limit, term_payment_id, what3words, holding_number"

// fieldChanges make, for each changeable ERP column, a new valid value
// from a row's old one; a value they do not apply to (an empty one: no
// credit limit, no farm) stays as it is. Appending the same text to every
// name keeps the Customer API's names and company numbers unique.
var fieldChanges = map[string]func(v string) string{
	"name": func(v string) string { return v + " v2" },
	"street": func(v string) string {
		if v == "" {
			return ""
		}
		return v + " 2"
	},
	"credit_limit": func(v string) string {
		n, err := strconv.Atoi(v)
		if err != nil {
			return v
		}
		return strconv.Itoa(n + 1000)
	},
	"term_payment_id": func(v string) string {
		switch v {
		case "14":
			return "28"
		case "28":
			return "60"
		case "60":
			return "14"
		}
		return v
	},
	// what3words: the same three words in another order.
	"what3words": func(v string) string {
		w := strings.Split(v, ".")
		if len(w) != 3 {
			return v
		}
		return w[1] + "." + w[2] + "." + w[0]
	},
	// holding_number: the next holding in the same parish (NN/NNN/NNNN).
	"holding_number": func(v string) string {
		i := strings.LastIndexByte(v, '/')
		n, err := strconv.Atoi(v[i+1:])
		if i < 0 || err != nil {
			return v
		}
		return fmt.Sprintf("%s/%04d", v[:i], (n+1)%10000)
	},
}

// parseChangedFields reads --changed-fields.
func parseChangedFields(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if fieldChanges[f] == nil {
			return nil, fmt.Errorf("%q: want some of %s", f, changeableFields)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("want at least one of %s", changeableFields)
	}
	return out, nil
}

// UpdateResult is the JSON line of `erpbench update`: after an untimed
// migration of the records, the fields changed in the ERP and the
// connector's sync of the changes, timed.
type UpdateResult struct {
	Platform      string   `json:"platform"`
	Records       int      `json:"records"`
	ChangedFields []string `json:"changed_fields"`
	// ChangedRecords are the ERP rows the change altered (a value the
	// change leaves as it is, such as a what3words outside a farm, leaves
	// its row untouched); the figures are per record of Records.
	ChangedRecords int `json:"changed_records"`
	RunFigures
	UpstreamFigures
	// Outcomes are the connector's outcomes in the timed run (direction →
	// outcome → records).
	Outcomes map[string]map[string]int `json:"outcomes"`
	// MigrateSeconds is the untimed migration's wall time.
	MigrateSeconds float64 `json:"migrate_seconds"`
}

// runUpdate is `erpbench update`.
func runUpdate(ctx context.Context, o benchOptions, out io.Writer) (UpdateResult, error) {
	p, n := o.plat(), o.records
	res := UpdateResult{Platform: p.name, Records: n, ChangedFields: o.changed, UpstreamFigures: o.upstream.figures()}
	dir, cleanup, err := workDir(o)
	if err != nil {
		return res, err
	}
	defer cleanup()
	first, m, err := migrate(ctx, o, dir, false, out)
	if err != nil {
		return res, err
	}
	defer m.server.stop()
	res.MigrateSeconds = first.Seconds

	t0 := time.Now()
	if res.ChangedRecords, err = changeERP(ctx, m.erp, p, n, o.seed, o.changed); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "ERP: %s changed in %d of %d rows in %s\n", strings.Join(o.changed, ", "), res.ChangedRecords, n, time.Since(t0).Round(time.Millisecond))

	figs, outcomes, err := timedSync(ctx, o, dir, m, n, "update", "sync of the changes of %d records", out)
	if err != nil {
		return res, err
	}
	res.RunFigures, res.Outcomes = figs, outcomes
	if err := unthrottle(ctx, m.server.url, o.upstream); err != nil {
		return res, err
	}
	checked, err := verifyChanged(ctx, p, m, o.changed, o.concurrency)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "verify: the platform holds the ERP's %s for all %d records (%s)\n", strings.Join(o.changed, ", "), n, checked)
	return res, nil
}

// changeERP applies update's changes to the n rows generated for p and
// writes the rows they altered, changed now. It returns how many.
func changeERP(ctx context.Context, path string, p *chaosPlatform, n int, seed uint64, fields []string) (int, error) {
	db, d, err := openERPDB(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	at, changed := time.Now(), 0
	err = genRecords(p, n, seed, func(recs []erpgen.Record) error {
		var rows []erpgen.Record
		for _, r := range recs {
			alt := false
			for _, f := range fields {
				if v := r.Value(f); fieldChanges[f](v) != v {
					r.Set(f, fieldChanges[f](v))
					alt = true
				}
			}
			if alt {
				rows = append(rows, r)
			}
		}
		changed += len(rows)
		// An upsert of every data column: the platform ids written back
		// are not among them.
		if err := sqlerp.InsertDemoRecords(ctx, db, d, erpTable, rows, at); err != nil {
			return fmt.Errorf("erp: %w", err)
		}
		return nil
	})
	return changed, err
}

// verifyChanged checks that the platform agrees with the ERP on the
// canonical fields of the changed columns, for every record: each
// platform record (ONe's listing, the Customer API's organisation with its
// farm business unit, read as the connector reads them) seen in the ERP's
// terms (the carrier's view) may differ from the ERP record in no changed
// field the platform carries. It says which fields it could check.
func verifyChanged(ctx context.Context, p *chaosPlatform, m *migrated, columns []string, c int) (string, error) {
	carrier := mapping.ONeCarrier
	if p == customerAPIPlatform {
		carrier = mapping.CustomerAPICarrier
	}
	var ruleFields []string
	canon := map[string]string{}
	for _, r := range erpgen.Rules() {
		ruleFields = append(ruleFields, r.Field)
		if slices.Contains(columns, r.ERP) {
			canon[r.Field] = r.ERP
		}
	}
	terms := mapping.Terms{Held: mapping.HeldFields(ruleFields)}
	carried := map[string]bool{}
	for _, f := range carrier.Fields {
		for _, n := range f.Names {
			if canon[n] != "" {
				carried[n] = true
			}
		}
	}
	if len(carried) == 0 {
		return "the platform carries none of them: nothing to read back", nil
	}
	erpRecs, err := erpCustomers(ctx, m.erp)
	if err != nil {
		return "", err
	}
	plat, err := platformCustomers(ctx, p, m, c)
	if err != nil {
		return "", err
	}
	var bad []string
	for key, ec := range erpRecs {
		pc, ok := plat[key]
		if !ok {
			bad = append(bad, key+": no platform record")
			continue
		}
		view := carrier.View(ec, pc.c, pc.partial, terms)
		for _, f := range carrier.Differences(ec, view) {
			if carried[f] {
				bad = append(bad, fmt.Sprintf("%s: %s differs", key, f))
			}
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("verify: %w: %d differences between the ERP and the platform (%s)", errCheck, len(bad), sample(bad))
	}
	var names []string
	for f := range carried {
		names = append(names, f)
	}
	slices.Sort(names)
	return "checked " + strings.Join(names, ", "), nil
}

// platCustomer is a platform record in canonical form; partial says it
// lacks the optional fields.
type platCustomer struct {
	c       mapping.Customer
	partial bool
}

// platformCustomers reads every platform record of the bound ERP rows, by
// ERP key: ONe's clients from its listing (by external id), the Customer
// API's organisations and farm units as the connector's platform reads
// them (by the ids written back).
func platformCustomers(ctx context.Context, p *chaosPlatform, m *migrated, c int) (map[string]platCustomer, error) {
	out := map[string]platCustomer{}
	switch p {
	case onePlatform:
		api, err := oneapi.New(oneapi.Config{BaseURL: m.server.url, Tenant: benchTenant, APIKey: m.key, Timeout: time.Minute})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		defer api.CloseIdleConnections()
		for cl, err := range api.AllClients(ctx, oneapitest.MaxPageSize) {
			if err != nil {
				return nil, fmt.Errorf("verify: list clients: %w", err)
			}
			pc := mapping.FromONe(cl)
			pc.Normalize()
			out[cl.ExternalID] = platCustomer{c: pc}
		}
		return out, nil
	case customerAPIPlatform:
		api, err := capi.New(capi.Options{BaseURL: m.server.url, Timeout: time.Minute,
			Credentials: capi.Credentials{Username: benchUser, Password: m.key}})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		plat := customerapi.New(api, customerapi.Options{})
		ids, err := erpPlatformIDs(ctx, m.erp, p.idColumn)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(ids))
		for k := range ids {
			keys = append(keys, k)
		}
		var mu sync.Mutex
		err = parallel(ctx, len(keys), c, func(ctx context.Context, i int) error {
			rec, err := plat.Fetch(ctx, platform.Ref{ID: ids[keys[i]]})
			if err != nil {
				return fmt.Errorf("verify: read %s: %w", keys[i], err)
			}
			mu.Lock()
			out[keys[i]] = platCustomer{c: rec.Customer, partial: rec.Partial}
			mu.Unlock()
			return nil
		})
		return out, err
	}
	return nil, errors.New("verify: unknown platform")
}

// pullRenames is the suffix `erpbench pull` gives every organisation's
// name on the platform.
const pullRenames = " (platform)"

// PullResult is the JSON line of `erpbench pull`: after an untimed
// migration of the records to the Customer API, every organisation's name
// and its farm's holding number changed on the platform, then the
// connector's pull of the changes into the ERP, timed. The connector owns
// neither there: its configuration gives the master and farm fields to the
// platform (ownership), so the changes are taken into the ERP.
type PullResult struct {
	Platform string `json:"platform"`
	Records  int    `json:"records"`
	// ChangedRecords are the organisations changed on the platform (each
	// with its farm business unit's holding number).
	ChangedRecords int `json:"changed_records"`
	RunFigures
	UpstreamFigures
	Outcomes       map[string]map[string]int `json:"outcomes"`
	MigrateSeconds float64                   `json:"migrate_seconds"`
}

// platformOwnsMasterAndFarm gives the names, addresses and farm fields to
// the platform.
func platformOwnsMasterAndFarm(doc map[string]any) {
	doc["ownership"] = []map[string]any{
		{"group": string(mapping.GroupMaster), "owner": string(mapping.OwnerPlatform)},
		{"group": string(mapping.GroupFarm), "owner": string(mapping.OwnerPlatform)},
	}
}

// runPull is `erpbench pull`.
func runPull(ctx context.Context, o benchOptions, out io.Writer) (PullResult, error) {
	p, n := o.plat(), o.records
	res := PullResult{Platform: p.name, Records: n, UpstreamFigures: o.upstream.figures()}
	dir, cleanup, err := workDir(o)
	if err != nil {
		return res, err
	}
	defer cleanup()
	o.configExtra = platformOwnsMasterAndFarm
	first, m, err := migrate(ctx, o, dir, false, out)
	if err != nil {
		return res, err
	}
	defer m.server.stop()
	res.MigrateSeconds = first.Seconds

	t0 := time.Now()
	want, err := changeOnPlatform(ctx, m, o.concurrency)
	if err != nil {
		return res, err
	}
	res.ChangedRecords = len(want)
	fmt.Fprintf(out, "platform: %d organisations renamed and their farms' holding numbers changed in %s\n", len(want), time.Since(t0).Round(time.Millisecond))

	figs, outcomes, err := timedSync(ctx, o, dir, m, n, "pull", "pull of %d changed organisations", out)
	if err != nil {
		return res, err
	}
	res.RunFigures, res.Outcomes = figs, outcomes
	got, err := erpCustomers(ctx, m.erp)
	if err != nil {
		return res, err
	}
	var bad []string
	for key, w := range want {
		c := got[key]
		if c.Name != w.Name || c.Farm.HoldingNumber != w.Farm.HoldingNumber {
			bad = append(bad, fmt.Sprintf("%s: %q %q, want %q %q", key, c.Name, c.Farm.HoldingNumber, w.Name, w.Farm.HoldingNumber))
		}
	}
	if len(bad) > 0 || len(got) != n {
		return res, fmt.Errorf("pull: %w: %d of %d ERP rows lack the platform's name and holding number (%s)", errCheck, len(bad), n, sample(bad))
	}
	fmt.Fprintf(out, "verify: the ERP holds the platform's names and holding numbers for all %d records\n", n)
	return res, nil
}

// changeOnPlatform renames every organisation of the migration and gives
// its farm business unit the next holding number, through the API as the
// bench user; it returns the names and holding numbers the ERP must then
// hold, by ERP key.
func changeOnPlatform(ctx context.Context, m *migrated, c int) (map[string]mapping.Customer, error) {
	api, err := capi.New(capi.Options{BaseURL: m.server.url, Timeout: time.Minute,
		Credentials: capi.Credentials{Username: benchUser, Password: m.key}})
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	custs, err := erpCustomers(ctx, m.erp)
	if err != nil {
		return nil, err
	}
	ids, err := erpPlatformIDs(ctx, m.erp, customerAPIPlatform.idColumn)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(custs))
	for k := range custs {
		keys = append(keys, k)
	}
	want := make(map[string]mapping.Customer, len(keys))
	for _, k := range keys {
		w := custs[k]
		w.Name += pullRenames
		w.Farm.HoldingNumber = fieldChanges["holding_number"](w.Farm.HoldingNumber)
		want[k] = w
	}
	err = parallel(ctx, len(keys), c, func(ctx context.Context, i int) error {
		k := keys[i]
		w := want[k]
		org, err := api.UpdateOrganisation(ctx, ids[k], capi.UpdateOrganisationRequest{Name: &w.Name})
		if err != nil {
			return fmt.Errorf("platform: rename %s: %w", k, err)
		}
		for _, u := range org.BusinessUnits {
			if u.Type != string(capi.BusinessUnitFarm) {
				continue
			}
			if _, err := api.UpdateBusinessUnit(ctx, u.ID, capi.UpdateBusinessUnitRequest{
				Business: &capi.BusinessInput{HoldingNumber: w.Farm.HoldingNumber}}); err != nil {
				return fmt.Errorf("platform: farm of %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return want, nil
}

// timedSync times the connector's sync of n changed records (mode update or
// pull) against the migrated world m, the server throttled as the options
// say; what describes the run ("pull of %d changed organisations"). The
// queue must end empty, without dead letters.
func timedSync(ctx context.Context, o benchOptions, dir string, m *migrated, n int, mode, what string, out io.Writer) (RunFigures, map[string]map[string]int, error) {
	if err := throttle(ctx, m.server.url, o.upstream); err != nil {
		return RunFigures{}, nil, err
	}
	cfg, err := benchConfig(o, dir, "connector-timed.yaml", m.server.url, m.key, m.erp, m.state, o.upstream.rate)
	if err != nil {
		return RunFigures{}, nil, err
	}
	figs, run, err := timedRun(ctx, o, dir, cfg, mode, m.server, n)
	if err != nil {
		return RunFigures{}, nil, err
	}
	fmt.Fprintf(out, "connector: "+what+" in %s: %.0f records/s, peak RSS %.1f MiB, CPU %.2f s; outcomes %v\n",
		n, run.wall.Round(time.Millisecond), figs.ConnectorRPS, figs.PeakRSSMiB, figs.ConnectorCPUS, run.report.Outcomes)
	fmt.Fprintf(out, "connector: %s\n", figs.describe())
	if run.report.Queue.Dead != 0 || run.report.Queue.Total() != 0 {
		return figs, run.report.Outcomes, fmt.Errorf("%s: %w: %d dead letters, %d jobs left in the queue", mode, errCheck, run.report.Queue.Dead, run.report.Queue.Total())
	}
	return figs, run.report.Outcomes, nil
}
