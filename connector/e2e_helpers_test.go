package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

const (
	tenant   = "demo"
	apiKey   = "0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"
	capiUser = "connector@agri-erp.example.co.uk"
	capiPass = "Conn3ctorSecretPw"
)

// countingERP counts writes the connector makes to the ERP. It passes every
// optional extra of the adapter on (the fields it holds among them).
type countingERP struct {
	erp.Adapter
	writes atomic.Int64
	// mapped and known count the rows ListKnownItems mapped and left;
	// changesMapped and changesKnown those ChangesKnown mapped and left.
	mapped, known               atomic.Int64
	changesMapped, changesKnown atomic.Int64
}

func (c *countingERP) ChangesKnown(ctx context.Context, cursor string, limit int, known func(string, uint64) bool) (erp.Page, error) {
	page, err := c.Adapter.(erp.KnownChanger).ChangesKnown(ctx, cursor, limit, known)
	for _, it := range page.Items {
		if it.Known {
			c.changesKnown.Add(1)
		} else {
			c.changesMapped.Add(1)
		}
	}
	return page, err
}

func (c *countingERP) Upsert(ctx context.Context, cu mapping.Customer) (string, error) {
	c.writes.Add(1)
	return c.Adapter.Upsert(ctx, cu)
}
func (c *countingERP) SetPlatformID(ctx context.Context, key string, p mapping.Platform, id string) error {
	c.writes.Add(1)
	return c.Adapter.SetPlatformID(ctx, key, p, id)
}
func (c *countingERP) Unlink(ctx context.Context, key string, p mapping.Platform) error {
	c.writes.Add(1)
	return c.Adapter.Unlink(ctx, key, p)
}
func (c *countingERP) MarkDeleted(ctx context.Context, key string) error {
	c.writes.Add(1)
	return c.Adapter.MarkDeleted(ctx, key)
}
func (c *countingERP) ListKeys(ctx context.Context, after string, limit int) ([]string, error) {
	return c.Adapter.(erp.KeyLister).ListKeys(ctx, after, limit)
}
func (c *countingERP) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	return c.Adapter.(erp.ItemLister).ListItems(ctx, after, limit)
}
func (c *countingERP) ListKnownItems(ctx context.Context, after string, limit int, known func(string, uint64) bool) ([]erp.Item, error) {
	its, err := c.Adapter.(erp.KnownLister).ListKnownItems(ctx, after, limit, known)
	for _, it := range its {
		if it.Known {
			c.known.Add(1)
		} else {
			c.mapped.Add(1)
		}
	}
	return its, err
}
func (c *countingERP) CountFlagged(ctx context.Context) (int, error) {
	return c.Adapter.(erp.Counter).CountFlagged(ctx)
}
func (c *countingERP) HeldFields() []string { return c.Adapter.(erp.Holder).HeldFields() }

// world is the end-to-end test world: the SQLite demo ERP, both reference
// servers on real sockets (every exchange checked against its contract),
// and a connector configured for the platforms a test asks for.
type world struct {
	t     *testing.T
	one   *oneapitest.Server
	hs    *httptest.Server
	srv   *customerapitest.Server
	ts    *httptest.Server
	cl    *customerapi.Client // logged in as the connector's user, acting on the platform
	tab   *sqlerp.Table
	erp   *countingERP
	conn  *connector.Connector
	cfg   connector.Config
	logs  *syncbuf.Buffer
	vOne  *contract.Validator
	vCAPI *contract.Validator
	// reg holds the running connector's metrics.
	reg    *prometheus.Registry
	clock  time.Time
	recs   []erpgen.Record
	dbPath string
	// erpOverride, when set, is handed to the connector instead of erp.
	erpOverride erp.Adapter
}

type worldOpts struct {
	records      int
	seed         uint64
	invalidEvery int
	kinds        []erpgen.Invalid
	// platforms are the platforms configured (default: ONe only).
	platforms []mapping.Platform
	// edit changes the generated records before they go into the ERP.
	edit      func(recs []erpgen.Record)
	configure func(*connector.Config)
	noStart   bool
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx := context.Background()
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{tenant: apiKey}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(one)
	t.Cleanup(hs.Close)
	srv := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{capiUser: capiPass}, Seed: 7})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cl, err := customerapi.New(customerapi.Options{BaseURL: ts.URL, Credentials: customerapi.Credentials{Username: capiUser, Password: capiPass}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := &world{t: t, one: one, hs: hs, srv: srv, ts: ts, cl: cl, logs: &syncbuf.Buffer{}, clock: time.Now().Add(-time.Hour),
		dbPath: filepath.Join(dir, "erp.db")}
	erpCfg := sqlerp.DemoConfig("sqlite", w.dbPath, sqlerp.DemoTable)
	erpCfg.IncludeUnflagged = true // the connector applies its unflag policy
	tab, err := sqlerp.Open(ctx, erpCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		t.Fatal(err)
	}
	w.tab, w.erp = tab, &countingERP{Adapter: tab}
	if o.records > 0 {
		seed := o.seed
		if seed == 0 {
			seed = 11
		}
		w.recs = erpgen.New(erpgen.Options{Seed: seed, InvalidEvery: o.invalidEvery, Kinds: o.kinds}).Records(o.records)
		uniqueOnPlatform(w.recs)
		if o.edit != nil {
			o.edit(w.recs)
		}
		w.put(w.recs...)
	}
	if w.vOne, err = contract.New(oneapi.OpenAPISpec); err != nil {
		t.Fatal(err)
	}
	if w.vCAPI, err = contract.New(customerapi.OpenAPISpec); err != nil {
		t.Fatal(err)
	}
	w.cfg = connector.Config{
		StatePath: filepath.Join(dir, "state.db"),
		ERP:       connector.ERPConfig{PageSize: 25},
		Queue:     connector.QueueConfig{MaxAttempts: 8},
	}
	platforms := o.platforms
	if len(platforms) == 0 {
		platforms = []mapping.Platform{mapping.PlatformONe}
	}
	for _, p := range platforms {
		switch p {
		case mapping.PlatformONe:
			w.cfg.ONe = &connector.ONeConfig{BaseURL: hs.URL, Tenant: tenant, APIKey: apiKey, PageSize: 50}
		case mapping.PlatformCustomerAPI:
			w.cfg.CustomerAPI = &connector.CustomerAPIConfig{BaseURL: ts.URL, Username: capiUser, Password: capiPass, PageSize: 7,
				Upstream: connector.Upstream{Workers: 4}}
		}
	}
	if o.configure != nil {
		o.configure(&w.cfg)
	}
	if !o.noStart {
		w.start()
	}
	return w
}

// uniqueOnPlatform gives every generated customer its own owner e-mail and
// name (the Customer API refuses a second organisation with the same name
// and company number, or a second user with the same e-mail).
func uniqueOnPlatform(recs []erpgen.Record) {
	seen := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		if r.Invalid != erpgen.BadEmail { // the planted bad owner e-mail stays
			r.Set("admin_email", strings.ToLower(r.Key)+"@owners.example.co.uk")
		}
		id := strings.ToLower(r.Value("name") + "|" + r.Value("company_number"))
		if seen[id] {
			r.Set("name", r.Value("name")+" "+r.Key)
			if r.Value("customer_type") == "C" {
				r.Set("admin_name", r.Value("name"))
			}
		}
		seen[strings.ToLower(r.Value("name")+"|"+r.Value("company_number"))] = true
	}
}

// byHost sends each platform's traffic through its contract's validator.
type byHost struct {
	one, capi http.RoundTripper
	oneHost   string
}

func (b byHost) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == b.oneHost {
		return b.one.RoundTrip(r)
	}
	return b.capi.RoundTrip(r)
}

func (b byHost) CloseIdleConnections() {
	for _, t := range []http.RoundTripper{b.one, b.capi} {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

func (w *world) transport() http.RoundTripper {
	u, _ := url.Parse(w.hs.URL)
	base := http.DefaultTransport.(*http.Transport).Clone()
	return byHost{one: w.vOne.Transport(base, false), capi: w.vCAPI.Transport(base, false), oneHost: u.Host}
}

func (w *world) start() {
	w.t.Helper()
	var adapter erp.Adapter = w.erp
	if w.erpOverride != nil {
		adapter = w.erpOverride
	}
	w.reg = prometheus.NewRegistry()
	c, err := connector.New(connector.Options{Config: w.cfg, ERP: adapter, Logger: w.logger(), Transport: w.transport(),
		Registerer: w.reg})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	w.conn = c
	w.t.Cleanup(func() { _ = c.Stop(context.Background()) })
}

func (w *world) stop() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.conn.Stop(ctx); err != nil {
		w.t.Fatal(err)
	}
}

// put writes records into the ERP, each write one second after the last (the
// change cursor orders by updated-at).
func (w *world) put(recs ...erpgen.Record) {
	w.t.Helper()
	// Later than anything written so far, including the connector's own
	// writes stamped with the real time.
	w.clock = w.clock.Add(time.Second)
	if now := time.Now(); now.After(w.clock) {
		w.clock = now
	}
	if err := sqlerp.InsertDemoRecords(context.Background(), w.tab.DB(), w.tab.Dialect(), sqlerp.DemoTable, recs, w.clock); err != nil {
		w.t.Fatal(err)
	}
}

// putUnseen writes records with an updated-at long past: the change scans
// do not see them (only a resync does).
func (w *world) putUnseen(recs ...erpgen.Record) {
	w.t.Helper()
	if err := sqlerp.InsertDemoRecords(context.Background(), w.tab.DB(), w.tab.Dialect(), sqlerp.DemoTable, recs,
		time.Now().Add(-48*time.Hour)); err != nil {
		w.t.Fatal(err)
	}
}

// hardDelete removes an ERP row as another tool would (no deleted column).
func (w *world) hardDelete(key string) {
	w.t.Helper()
	q := fmt.Sprintf("DELETE FROM %s WHERE %s = %s", sqlerp.DemoTable, erpgen.KeyColumn, w.tab.Dialect().Placeholder(1))
	if _, err := w.tab.DB().ExecContext(context.Background(), q, key); err != nil {
		w.t.Fatal(err)
	}
}

// rows counts the ERP's rows.
func (w *world) rows() int {
	w.t.Helper()
	var n int
	if err := w.tab.DB().QueryRow("SELECT COUNT(*) FROM " + sqlerp.DemoTable).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// sync runs one sync and waits until every queued job is delivered.
func (w *world) sync() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.conn.SyncOnce(ctx); err != nil {
		w.t.Fatal(err)
	}
	w.idle()
}

func (w *world) idle() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.conn.WaitIdle(ctx); err != nil {
		st, _ := w.conn.Status(context.Background())
		w.t.Fatalf("queue did not drain: %v (queue %+v)\n%s", err, st.Queue, w.logLines())
	}
}

// resync runs a full resync of the platforms and waits for its delivery.
func (w *world) resync(platforms ...mapping.Platform) connector.ResyncReport {
	w.t.Helper()
	rep, err := w.conn.Resync(context.Background(), platforms...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.idle()
	return rep
}

// writes counts the write operations ONe received.
func (w *world) writes() int64 {
	c := w.one.Faults().Counts()
	return c["createClient"].Total + c["updateClient"].Total + c["deleteClient"].Total + c["updateClientFinanceData"].Total +
		c["updateClientBasicData"].Total + c["updateClientAdvancedData"].Total + c["updateClientAdditionalData"].Total
}

// capiWrites counts the write operations the Customer API received.
func (w *world) capiWrites() int64 {
	c := w.srv.Faults().Counts()
	return c["createOrganisation"].Total + c["updateOrganisation"].Total + c["createBusinessUnit"].Total + c["updateBusinessUnit"].Total
}

func (w *world) get(key string) erp.Item {
	w.t.Helper()
	it, err := w.tab.Get(context.Background(), key)
	if err != nil {
		w.t.Fatal(err)
	}
	return it
}

func (w *world) noContractProblems() {
	w.t.Helper()
	for _, v := range []*contract.Validator{w.vOne, w.vCAPI} {
		for _, p := range v.Problems() {
			w.t.Errorf("contract: %v", p)
		}
	}
}

type connectorConfig = connector.Config
type ownership = connector.Ownership

func statusStrings(st connector.Status) []string {
	b, _ := json.Marshal(st)
	return []string{string(b), fmt.Sprintf("%+v", st)}
}

func strconvFormat(n uint64) string { return fmt.Sprint(n) }

func (w *world) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logLines returns the logs without the per-request lines (for failures).
func (w *world) logLines() string {
	var b strings.Builder
	for _, l := range strings.Split(w.logs.String(), "\n") {
		if !strings.Contains(l, `"msg":"request"`) && l != "" {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// backofficeEdit changes the ONe client bound to an ERP key as the back
// office would, and returns its id.
func (w *world) backofficeEdit(key string, edit func(*oneapi.ClientWrite)) string {
	w.t.Helper()
	id := w.get(key).Customer.PlatformIDs.ONe
	cl, _ := w.one.Client(tenant, id)
	wr := mapping.ToONeWrite(mapping.FromONe(cl))
	edit(&wr)
	if err := w.one.StorefrontUpdate(tenant, oneapi.ContextBackoffice, id, wr); err != nil {
		w.t.Fatal(err)
	}
	return id
}
