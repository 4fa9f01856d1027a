package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

const (
	tenant = "demo"
	apiKey = "0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"
)

// countingERP counts writes the connector makes to the ERP.
type countingERP struct {
	erp.Adapter
	writes atomic.Int64
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
func (c *countingERP) CountFlagged(ctx context.Context) (int, error) {
	return c.Adapter.(erp.Counter).CountFlagged(ctx)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type world struct {
	t     *testing.T
	one   *oneapitest.Server
	hs    *httptest.Server
	tab   *sqlerp.Table
	erp   *countingERP
	conn  *connector.Connector
	cfg   connector.Config
	logs  *syncBuf
	v     *contract.Validator
	clock time.Time
	recs  []erpgen.Record
	// erpOverride, when set, is handed to the connector instead of erp.
	erpOverride erp.Adapter
}

type worldOpts struct {
	records      int
	invalidEvery int
	configure    func(*connector.Config)
	noStart      bool
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
	dir := t.TempDir()
	erpCfg := sqlerp.DemoConfig("sqlite", filepath.Join(dir, "erp.db"), sqlerp.DemoTable)
	erpCfg.IncludeUnflagged = true // the connector applies its unflag policy
	tab, err := sqlerp.Open(ctx, erpCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, one: one, hs: hs, tab: tab, erp: &countingERP{Adapter: tab}, logs: &syncBuf{}, clock: time.Now().Add(-time.Hour)}
	if o.records > 0 {
		w.recs = erpgen.New(erpgen.Options{Seed: 11, InvalidEvery: o.invalidEvery}).Records(o.records)
		w.put(w.recs...)
	}
	v, err := contract.New(oneapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	w.v = v
	w.cfg = connector.Config{
		StatePath: filepath.Join(dir, "state.db"),
		ONe:       &connector.ONeConfig{BaseURL: hs.URL, Tenant: tenant, APIKey: apiKey, PageSize: 50},
		ERP:       connector.ERPConfig{PageSize: 25},
		Queue:     connector.QueueConfig{MaxAttempts: 8},
	}
	if o.configure != nil {
		o.configure(&w.cfg)
	}
	if !o.noStart {
		w.start()
	}
	return w
}

func (w *world) start() {
	w.t.Helper()
	var adapter erp.Adapter = w.erp
	if w.erpOverride != nil {
		adapter = w.erpOverride
	}
	c, err := connector.New(connector.Options{Config: w.cfg, ERP: adapter,
		Logger:    slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Transport: w.v.Transport(http.DefaultTransport.(*http.Transport).Clone(), false)})
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
		w.t.Fatalf("queue did not drain: %v (queue %+v)", err, st.Queue)
	}
}

func (w *world) writes() int64 {
	c := w.one.Faults().Counts()
	return c["createClient"].Total + c["updateClient"].Total + c["deleteClient"].Total + c["updateClientFinanceData"].Total +
		c["updateClientBasicData"].Total + c["updateClientAdvancedData"].Total + c["updateClientAdditionalData"].Total
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
	for _, p := range w.v.Problems() {
		w.t.Errorf("contract: %v", p)
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
