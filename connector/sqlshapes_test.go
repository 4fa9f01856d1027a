package connector_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/erptest"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// The SQL ERP adapter's table shapes, end to end: customer tables laid out
// as ERPs other than the demo lay them out (timestamps another tool wrote
// as text, integer and bigint identity keys, a separate inbound table
// whose key the database generates, PostgreSQL's native types), each
// driven through the whole connector against both reference servers.

// shapeTable is an ERP customer table (and its inbound table) the test
// created, with the adapter opened on it.
type shapeTable struct {
	tab *sqlerp.Table
	// table, inbound and inKey are the configured names (schema-qualified
	// on PostgreSQL); inbound is "" when upserts go to the table itself.
	table, inbound, inKey string
}

// q quotes a configured identifier.
func (s shapeTable) q(t *testing.T, id string) string {
	t.Helper()
	qi, err := sqlerp.QuoteIdent(id)
	if err != nil {
		t.Fatal(err)
	}
	return qi
}

// ph is the n-th bind parameter of the adapter's dialect.
func (s shapeTable) ph(n int) string { return s.tab.Dialect().Placeholder(n) }

// exec runs a statement as another tool writing the ERP's tables would.
func (s shapeTable) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.tab.DB().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// count counts the rows of a table that match where ("" for all).
func (s shapeTable) count(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + s.q(t, table)
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := s.tab.DB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// rename changes a customer's name and cursor in the table, as the ERP would.
func (s shapeTable) rename(t *testing.T, key, name string, stamp any) {
	t.Helper()
	s.exec(t, fmt.Sprintf("UPDATE %s SET %q = %s, %q = %s WHERE %q = %s", s.q(t, s.table), "name", s.ph(1),
		erpgen.UpdatedAtColumn, s.ph(2), erpgen.KeyColumn, s.ph(3)), name, stamp, keyArg(key))
}

// nameInTable reads a customer's name straight from the table (not from
// an inbound table the adapter may also look in).
func (s shapeTable) nameInTable(t *testing.T, key string) string {
	t.Helper()
	var name sql.NullString
	q := fmt.Sprintf("SELECT %q FROM %s WHERE %q = %s", "name", s.q(t, s.table), erpgen.KeyColumn, s.ph(1))
	if err := s.tab.DB().QueryRowContext(context.Background(), q, keyArg(key)).Scan(&name); err != nil {
		t.Fatalf("%s (%s): %v", q, key, err)
	}
	return name.String
}

// keyArg binds an integer key as an integer, anything else as text.
func keyArg(key string) any {
	if n, err := strconv.ParseInt(key, 10, 64); err == nil {
		return n
	}
	return key
}

// shapeColumns declares the demo layout's columns with the key column
// key (declared keyDecl) and the cursor column declared cursorDecl.
func shapeColumns(d sqlerp.Dialect, key, keyDecl, cursorDecl string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %s", key, keyDecl)
	for _, c := range erpgen.Columns() {
		typ := "TEXT"
		switch c {
		case "credit_limit":
			typ = d.NumericType
		case "latitude", "longitude":
			typ = d.FloatType
		}
		fmt.Fprintf(&b, ",\n  %q %s", c, typ)
	}
	for _, c := range []string{erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn} {
		fmt.Fprintf(&b, ",\n  %q BOOLEAN NOT NULL DEFAULT FALSE", c)
	}
	fmt.Fprintf(&b, ",\n  %q TEXT,\n  %q TEXT,\n  %q %s", erpgen.ONeIDColumn, erpgen.CustomerAPIColumn, erpgen.UpdatedAtColumn, cursorDecl)
	return b.String()
}

// openShape runs ddl on a connection of its own (the tables exist before
// the adapter reads their columns), then opens the adapter on cfg.
func openShape(t *testing.T, cfg sqlerp.Config, ddl ...string) *sqlerp.Table {
	t.Helper()
	ctx := context.Background()
	d, err := sqlerp.DialectFor(cfg.Driver)
	if err != nil {
		t.Fatal(err)
	}
	dsn := cfg.DSN
	if d.Name == "sqlite" {
		dsn = sqlerp.SQLiteDSN(dsn)
	}
	db, err := sql.Open(d.Driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ddl {
		if _, err := db.ExecContext(ctx, s); err != nil {
			_ = db.Close()
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tab, err := sqlerp.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	return tab
}

// insertShapeRows writes generated records into the table as the ERP
// would: row i with the key key(i) (nil: the database numbers the rows)
// and the cursor value at(i). It returns the rows' keys as the adapter
// reports them (read back with RETURNING).
func insertShapeRows(t *testing.T, s shapeTable, recs []erpgen.Record, key func(i int) any, at func(i int) any) []string {
	t.Helper()
	ctx := context.Background()
	var cols []string
	if key != nil {
		cols = append(cols, erpgen.KeyColumn)
	}
	cols = append(cols, erpgen.Columns()...)
	cols = append(cols, erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn, erpgen.UpdatedAtColumn)
	var qc, ph []string
	for i, c := range cols {
		qc = append(qc, strconv.Quote(c))
		ph = append(ph, s.ph(i+1))
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING %q", s.q(t, s.table), strings.Join(qc, ", "), strings.Join(ph, ", "),
		erpgen.KeyColumn)
	keys := make([]string, len(recs))
	for i, r := range recs {
		var args []any
		if key != nil {
			args = append(args, key(i))
		}
		for _, v := range r.Values {
			if v == "" {
				args = append(args, nil)
			} else {
				args = append(args, v)
			}
		}
		args = append(args, r.SyncONe, r.SyncCustomerAPI, r.Deleted, at(i))
		var k any
		if err := s.tab.DB().QueryRowContext(ctx, q, args...).Scan(&k); err != nil {
			t.Fatalf("insert %s: %v", r.Key, err)
		}
		switch x := k.(type) {
		case int64:
			keys[i] = strconv.FormatInt(x, 10)
		case []byte:
			keys[i] = string(x)
		default:
			keys[i] = fmt.Sprint(x)
		}
	}
	return keys
}

// shapeRecords generates n customers, all flagged for h's platform (UK
// farms for the Customer API, which takes organisations in the UK), every
// invalidEvery-th with the defect h's validation rejects, unique where the
// Customer API refuses duplicates.
func shapeRecords(h harness, seed uint64, n, invalidEvery int) []erpgen.Record {
	recs := erpgen.New(erpgen.Options{Seed: seed, InvalidEvery: invalidEvery, Kinds: []erpgen.Invalid{h.invalid},
		UKFarmsOnly: h.platform == mapping.PlatformCustomerAPI}).Records(n)
	uniqueOnPlatform(recs)
	for i := range recs {
		h.flag(&recs[i], true)
	}
	return recs
}

// useShape hands the table to the world: the connector, w.get (h.id,
// exactlyOnce) and the ERP write count of converged all use it.
func useShape(w *world, s shapeTable) {
	w.tab = s.tab
	w.erp = &countingERP{Adapter: s.tab}
	w.erpOverride = w.erp
}

// deadLettersAreTheInvalid checks the platform's dead letters are exactly
// the generated invalid customers, each without a platform id.
func deadLettersAreTheInvalid(t *testing.T, w *world, h harness) {
	t.Helper()
	invalid := map[string]bool{}
	for _, r := range w.recs {
		if h.wants(r) && r.Invalid != "" {
			invalid[r.Key] = true
		}
	}
	dead := deadLetters(t, w, h)
	if len(invalid) == 0 || len(dead) != len(invalid) {
		t.Fatalf("%d dead letters, want %d (the invalid customers)", len(dead), len(invalid))
	}
	for _, d := range dead {
		key := strings.TrimPrefix(d.Key, h.prefix+":push:")
		if !invalid[key] {
			t.Errorf("dead letter %s is not an invalid customer (%s)", d.Key, d.LastError)
		}
		if h.id(w, key) != "" {
			t.Errorf("invalid customer %s got a platform id", key)
		}
	}
}

// renameWrites is the platform writes one rename of r takes: the
// organisation, and a farm's business unit, which carries the name too.
func renameWrites(h harness, r erpgen.Record) int64 {
	if h.platform == mapping.PlatformCustomerAPI && r.Value("holding_number") != "" {
		return 2
	}
	return 1
}

// TestSQLShapeForeignTimestamps: another tool writes the ERP table's
// updated_at as text, many rows per instant (the example: 41
// customers, CURRENT_TIMESTAMP text; or ISO text with milliseconds and Z),
// and the connector reads 5 customers a page. One sync delivers every
// valid customer exactly once (the bug: 7 of 41 created, or a scan that
// never advanced); a later change the tool stamps is delivered by the next
// sync, and nothing else is sent again.
func TestSQLShapeForeignTimestamps(t *testing.T) {
	variants := []struct {
		name string
		// text writes an instant as the tool does.
		text func(time.Time) string
		// first is the first instant; the rows share three instants step apart.
		first time.Time
		step  time.Duration
		// decl declares the column (SQLite keeps the text either way; the
		// driver reads a TIMESTAMP column's text back as a time).
		decl string
	}{
		{"CURRENT_TIMESTAMP", func(ts time.Time) string { return ts.UTC().Format("2006-01-02 15:04:05") },
			time.Date(2026, 12, 1, 23, 24, 13, 0, time.UTC), time.Second, "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"},
		{"ISO", func(ts time.Time) string { return ts.UTC().Format("2006-01-02T15:04:05.000Z") },
			time.Date(2026, 12, 1, 23, 24, 13, 123_000_000, time.UTC), time.Millisecond, "TEXT NOT NULL"},
	}
	forEach(t, func(t *testing.T, h harness) {
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				w := h.world(t, worldOpts{noStart: true})
				w.cfg.ERP.PageSize = 5
				cfg := sqlerp.DemoConfig("sqlite", filepath.Join(t.TempDir(), "foreign.db"), "customers")
				cfg.IncludeUnflagged = true
				ix, err := sqlerp.ChangesIndex(cfg, "customers_changes")
				if err != nil {
					t.Fatal(err)
				}
				s := shapeTable{table: "customers"}
				s.tab = openShape(t, cfg, "CREATE TABLE customers (\n  "+shapeColumns(sqlerp.SQLite(), erpgen.KeyColumn, "TEXT PRIMARY KEY",
					v.decl)+"\n)", ix)
				w.recs = shapeRecords(h, 41, 41, 10)
				// Fourteen rows an instant, the later instants on the lower
				// keys: time order and key order disagree, and a page of 5
				// ends inside an instant.
				insertShapeRows(t, s, w.recs, func(i int) any { return w.recs[i].Key }, func(i int) any {
					return v.text(v.first.Add(time.Duration(2-i%3) * v.step))
				})
				if got := s.count(t, s.table, fmt.Sprintf("typeof(%q) = 'text'", erpgen.UpdatedAtColumn)); got != 41 {
					t.Fatalf("%d of 41 rows hold text timestamps", got)
				}
				useShape(w, s)
				w.start()

				w.sync()
				valid := h.valid(w)
				if len(valid) < 30 {
					t.Fatalf("only %d valid customers generated", len(valid))
				}
				exactlyOnce(t, w, h)
				if n := h.faults(w).Counts()[h.createOp].Total; n != int64(len(valid)) {
					t.Fatalf("%d %s calls, want %d: one per valid customer", n, h.createOp, len(valid))
				}
				deadLettersAreTheInvalid(t, w, h)
				if t.Failed() {
					t.FailNow()
				}

				// The tool changes three customers in one instant, later
				// than anything written so far (the connector's own ERP
				// writes included), in its own notation, and stamps three
				// more it saved unchanged.
				w.sync()
				h.faults(w).ResetCounts()
				stamp := v.text(time.Now().UTC().Truncate(time.Second).Add(time.Second))
				changed := []erpgen.Record{valid[0], valid[len(valid)/2], valid[len(valid)-1]}
				var want int64
				for i, r := range changed {
					s.exec(t, fmt.Sprintf("UPDATE customers SET name = ?, %q = ? WHERE %q = ?", erpgen.UpdatedAtColumn, erpgen.KeyColumn),
						fmt.Sprintf("Renamed By The Other Tool %d Ltd", i), stamp, r.Key)
					want += renameWrites(h, r)
				}
				for _, r := range []erpgen.Record{valid[1], valid[len(valid)/2+1], valid[len(valid)-2]} {
					s.exec(t, fmt.Sprintf("UPDATE customers SET %q = ? WHERE %q = ?", erpgen.UpdatedAtColumn, erpgen.KeyColumn), stamp, r.Key)
				}
				w.sync()
				if n := h.writes(w); n != want {
					t.Fatalf("%d platform writes for %d renames, want %d: %+v", n, len(changed), want, h.faults(w).Counts())
				}
				for i, r := range changed {
					if got, _ := h.record(w, h.id(w, r.Key)); got.Name != fmt.Sprintf("Renamed By The Other Tool %d Ltd", i) {
						t.Fatalf("%s: name on %s %q", r.Key, h.name, got.Name)
					}
				}
				converged(t, w, h)
				exactlyOnce(t, w, h)
				w.noContractProblems()
			})
		}
	})
}

// keyedShape is a table whose keys are not text, with a separate inbound
// table whose key column (of another name) the database fills.
type keyedShape struct {
	// open creates the tables and opens the adapter.
	open func(t *testing.T) shapeTable
	// key gives row i its key; nil: the database numbers the rows.
	key func(i int) any
	// stamp is the cursor value of a change made now (later than every
	// write before it).
	stamp func() any
	// isNewKey checks a key the inbound table generated.
	isNewKey func(key string) error
}

// sqliteIntegerShape: INTEGER PRIMARY KEY customer numbers from first
// (0: the database numbers them, from 1); customers from the platforms go
// to web_customers, numbered from 1 by its INTEGER PRIMARY KEY web_no.
func sqliteIntegerShape(first int64) keyedShape {
	sh := keyedShape{
		open: func(t *testing.T) shapeTable {
			d := sqlerp.SQLite()
			cfg := sqlerp.DemoConfig("sqlite", filepath.Join(t.TempDir(), "integer.db"), "customers")
			cfg.IncludeUnflagged = true
			cfg.InboundTable, cfg.InboundKeyColumn = "web_customers", "web_no"
			ix, err := sqlerp.ChangesIndex(cfg, "customers_changes")
			if err != nil {
				t.Fatal(err)
			}
			tab := openShape(t, cfg,
				"CREATE TABLE customers (\n  "+shapeColumns(d, erpgen.KeyColumn, "INTEGER PRIMARY KEY", "TIMESTAMP NOT NULL")+"\n)",
				"CREATE TABLE web_customers (\n  "+shapeColumns(d, "web_no", "INTEGER PRIMARY KEY", "TIMESTAMP NOT NULL")+"\n)",
				ix)
			return shapeTable{tab: tab, table: cfg.Table, inbound: cfg.InboundTable, inKey: cfg.InboundKeyColumn}
		},
		stamp: func() any { return time.Now().UTC().Add(time.Second) },
		isNewKey: func(key string) error {
			if n, err := strconv.ParseInt(key, 10, 64); err != nil || n <= 0 || first > 0 && n >= first {
				return fmt.Errorf("%q is not a number web_customers gave", key)
			}
			return nil
		},
	}
	if first > 0 {
		sh.key = func(i int) any { return first + int64(i) }
	}
	return sh
}

var reUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// postgresShape: BIGINT identity customer numbers and a timestamptz
// cursor, in a schema of the test's own; customers from the platforms go
// to web_customers, keyed by a uuid gen_random_uuid() gives.
func postgresShape(dsn string) keyedShape {
	return keyedShape{
		open: func(t *testing.T) shapeTable {
			_, schema := pgtest.Schema(t, dsn, "sqlshape")
			d := sqlerp.Postgres()
			cfg := sqlerp.DemoConfig("pgx", dsn, schema+".customers")
			cfg.IncludeUnflagged = true
			cfg.InboundTable, cfg.InboundKeyColumn = schema+".web_customers", "web_id"
			ix, err := sqlerp.ChangesIndex(cfg, "customers_changes")
			if err != nil {
				t.Fatal(err)
			}
			tab := openShape(t, cfg,
				"CREATE TABLE "+cfg.Table+" (\n  "+shapeColumns(d, erpgen.KeyColumn, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
					"TIMESTAMPTZ NOT NULL DEFAULT now()")+"\n)",
				"CREATE TABLE "+cfg.InboundTable+" (\n  "+shapeColumns(d, "web_id", "UUID PRIMARY KEY DEFAULT gen_random_uuid()",
					"TIMESTAMPTZ NOT NULL DEFAULT now()")+"\n)",
				ix)
			return shapeTable{tab: tab, table: cfg.Table, inbound: cfg.InboundTable, inKey: cfg.InboundKeyColumn}
		},
		stamp: func() any { return time.Now().Add(time.Second) },
		isNewKey: func(key string) error {
			if !reUUID.MatchString(key) {
				return fmt.Errorf("%q is not a uuid web_customers gave", key)
			}
			return nil
		},
	}
}

// keyedWorld starts a world for h on the shape's tables, holding 24
// generated customers (3 invalid).
func keyedWorld(t *testing.T, h harness, sh keyedShape, o worldOpts) (*world, shapeTable) {
	t.Helper()
	o.noStart = true
	w := h.world(t, o)
	s := sh.open(t)
	recs := shapeRecords(h, 23, 24, 8)
	keys := insertShapeRows(t, s, recs, sh.key, func(int) any { return sh.stamp() })
	for i := range recs {
		recs[i].Key = keys[i]
	}
	w.recs = recs
	useShape(w, s)
	w.start()
	return w, s
}

// runKeyedShape: ERP customers with integer keys reach the platform once,
// each platform id written back to its integer-keyed row (none to the
// inbound table); an ERP change through the cursor is delivered; a ONe
// storefront registration becomes one row of the inbound table, under the
// key the database gave it, bound, written back and never taken in twice;
// the Customer API (no importer) leaves an organisation the ERP does not
// know alone.
func runKeyedShape(t *testing.T, h harness, sh keyedShape) {
	ctx := context.Background()
	w, s := keyedWorld(t, h, sh, worldOpts{})
	w.sync()
	exactlyOnce(t, w, h)
	deadLettersAreTheInvalid(t, w, h)
	valid := h.valid(w)
	col := erpgen.CustomerAPIColumn
	if h.platform == mapping.PlatformONe {
		col = erpgen.ONeIDColumn
	}
	if n := s.count(t, s.table, strconv.Quote(col)+" IS NOT NULL"); n != len(valid) {
		t.Fatalf("%d rows of %s hold a %s id, want %d", n, s.table, h.name, len(valid))
	}
	if n := s.count(t, s.inbound, ""); n != 0 {
		t.Fatalf("%d rows in the inbound table after pushing ERP customers: a write to a customer of %s went there", n, s.table)
	}
	if h.platform == mapping.PlatformONe {
		for _, r := range valid {
			if cl, _ := w.one.Client(tenant, h.id(w, r.Key)); cl.ExternalID != r.Key {
				t.Fatalf("ONe client %s has external id %q, want the ERP key %s", cl.ID, cl.ExternalID, r.Key)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// An ERP change, stamped through the table's own cursor type.
	w.sync()
	h.faults(w).ResetCounts()
	r := valid[len(valid)/2]
	s.rename(t, r.Key, "Renamed In The Integer ERP Ltd", sh.stamp())
	w.sync()
	if n := h.writes(w); n != renameWrites(h, r) {
		t.Fatalf("%d platform writes for one rename, want %d: %+v", n, renameWrites(h, r), h.faults(w).Counts())
	}
	if got, _ := h.record(w, h.id(w, r.Key)); got.Name != "Renamed In The Integer ERP Ltd" {
		t.Fatalf("name on %s %q", h.name, got.Name)
	}
	w.sync()
	// The connector's own writes to customers of the table (the Customer
	// API's certificates) go to their rows, not to the inbound table.
	if n := s.count(t, s.inbound, ""); n != 0 {
		t.Errorf("%d rows in the inbound table, want 0: a write to an ERP customer of %s became an inbound customer", n, s.table)
	}
	converged(t, w, h)

	tableRows := s.count(t, s.table, "")
	if h.platform == mapping.PlatformCustomerAPI {
		// Not an importer: an organisation the ERP does not know is left alone.
		extra := erpgen.New(erpgen.Options{Seed: 99, UKFarmsOnly: true, KeyPrefix: "X"}).Records(1)
		uniqueOnPlatform(extra)
		if _, err := w.cl.CreateOrganisation(ctx, mapping.ToCustomerAPIOrganisation(erptest.Expected(extra[0]))); err != nil {
			t.Fatal(err)
		}
		erpWrites := w.erp.writes.Load()
		w.sync()
		w.resync(h.platform) // the walk that looks at unbound records too
		w.sync()
		if n := w.erp.writes.Load() - erpWrites; n != 0 {
			t.Fatalf("%d ERP writes for an organisation the ERP does not know", n)
		}
		if n, m := s.count(t, s.inbound, ""), s.count(t, s.table, ""); n != 0 || m != tableRows {
			t.Fatalf("inbound rows %d, table rows %d (want 0, %d)", n, m, tableRows)
		}
		w.noContractProblems()
		return
	}

	// A storefront registration becomes an ERP customer of the inbound table.
	reg := storefrontRegistration
	created, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, reg)
	if err != nil {
		t.Fatal(err)
	}
	w.sync()
	w.sync() // the new key travels to ONe as the external id
	cl, _ := w.one.Client(tenant, created.ClientID)
	key := cl.ExternalID
	if err := sh.isNewKey(key); err != nil {
		t.Fatalf("the registration's external id: %v\n%s", err, w.logLines())
	}
	imported := func() {
		t.Helper()
		if n := s.count(t, s.inbound, ""); n != 1 {
			t.Fatalf("%d rows in the inbound table, want the registration once", n)
		}
		var gotKey, gotID sql.NullString
		var flag bool
		q := fmt.Sprintf("SELECT CAST(%q AS TEXT), %q, %q FROM %s", s.inKey, erpgen.ONeIDColumn, erpgen.SyncONeColumn, s.q(t, s.inbound))
		if err := s.tab.DB().QueryRowContext(ctx, q).Scan(&gotKey, &gotID, &flag); err != nil {
			t.Fatal(err)
		}
		if gotKey.String != key || gotID.String != created.ClientID || !flag {
			t.Fatalf("inbound row %s = %q, one id %q, flagged %v; want %s, %s, true", s.inKey, gotKey.String, gotID.String, flag, key, created.ClientID)
		}
		it := w.get(key)
		if it.Customer.Name != reg.Name || it.Customer.PlatformIDs.ONe != created.ClientID {
			t.Fatalf("ERP customer %s: %q bound to %q", key, it.Customer.Name, it.Customer.PlatformIDs.ONe)
		}
		if n := s.count(t, s.table, ""); n != tableRows {
			t.Fatalf("%d rows in %s, want %d: the registration went to the table", n, s.table, tableRows)
		}
		if n := h.count(w); n != len(valid)+1 {
			t.Fatalf("%d ONe clients, want %d", n, len(valid)+1)
		}
		if cl, _ := w.one.Client(tenant, created.ClientID); cl.ExternalID != key {
			t.Fatalf("the registration's external id moved to %q", cl.ExternalID)
		}
	}
	imported()
	converged(t, w, h)
	imported()
	w.resync(h.platform)
	w.sync()
	imported()
	// The customers of the table are still bound, each to a record of its own.
	ids := map[string]bool{created.ClientID: true}
	for _, r := range valid {
		id := h.id(w, r.Key)
		if _, ok := h.record(w, id); !ok || ids[id] {
			t.Fatalf("%s: bound to %q (missing, or bound twice)", r.Key, id)
		}
		ids[id] = true
	}
	w.noContractProblems()
}

// runKeyedPlatformChange: with master data owned by the platform, a
// platform change to a bound record reaches the ERP customer's own
// integer-keyed row (not a new row of the inbound table), and the two
// sides then stay quiet.
func runKeyedPlatformChange(t *testing.T, h harness, sh keyedShape) {
	w, s := keyedWorld(t, h, sh, worldOpts{configure: func(c *connector.Config) {
		c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: connector.OwnerPlatform}}
	}})
	w.sync()
	w.sync()
	exactlyOnce(t, w, h)
	inbound := s.count(t, s.inbound, "")
	r := h.valid(w)[1]
	id := h.id(w, r.Key)
	h.rename(w, id, "Changed On The Platform Ltd")
	w.sync()
	w.sync()
	if got := s.nameInTable(t, r.Key); got != "Changed On The Platform Ltd" {
		t.Errorf("ERP row %s of %s is named %q, want the platform's change", r.Key, s.table, got)
	}
	if n := s.count(t, s.inbound, ""); n != inbound {
		t.Errorf("%d rows in the inbound table, %d before: the change of customer %s became a new inbound customer", n, inbound, r.Key)
	}
	if got, _ := h.record(w, id); got.Name != "Changed On The Platform Ltd" {
		t.Errorf("name on %s %q", h.name, got.Name)
	}
	if t.Failed() {
		t.FailNow()
	}
	converged(t, w, h)
	exactlyOnce(t, w, h)
	w.noContractProblems()
}

// TestSQLShapeIntegerKeys: SQLite INTEGER PRIMARY KEY customer numbers
// (from 100001) and a web_customers inbound table numbered (from 1) by its
// own INTEGER PRIMARY KEY web_no.
func TestSQLShapeIntegerKeys(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		t.Run("ERPToPlatformAndImport", func(t *testing.T) { runKeyedShape(t, h, sqliteIntegerShape(100001)) })
		t.Run("PlatformChangeReachesIntegerRow", func(t *testing.T) { runKeyedPlatformChange(t, h, sqliteIntegerShape(100001)) })
	})
}

// TestSQLShapePostgres: PostgreSQL BIGINT identity customer numbers, a
// timestamptz cursor and a web_customers inbound table keyed by
// gen_random_uuid().
func TestSQLShapePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	forEach(t, func(t *testing.T, h harness) {
		t.Run("ERPToPlatformAndImport", func(t *testing.T) { runKeyedShape(t, h, postgresShape(dsn)) })
		t.Run("PlatformChangeReachesIntegerRow", func(t *testing.T) { runKeyedPlatformChange(t, h, postgresShape(dsn)) })
	})
}

// TestSQLShapeIntegerKeysOverlappingInboundNumbers: the ERP numbers its
// customers 1, 2, 3… and web_customers numbers the customers it takes in
// 1, 2, 3… too, so a key would name two customers. A ONe storefront
// registration taken in is refused with the reason (the tables' keys must
// not overlap) and nothing is written to the ERP; the table's customer
// that holds the same number keeps its own ONe client, binding and sync.
func TestSQLShapeIntegerKeysOverlappingInboundNumbers(t *testing.T) {
	h := oneHarness // the Customer API takes no customers in
	sh := sqliteIntegerShape(0)
	w, s := keyedWorld(t, h, sh, worldOpts{})
	w.sync()
	exactlyOnce(t, w, h)
	before := map[string]mapping.Customer{}
	for _, r := range h.valid(w) {
		before[r.Key] = w.get(r.Key).Customer
	}
	created, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, storefrontRegistration)
	if err != nil {
		t.Fatal(err)
	}
	w.sync()
	w.sync()
	for _, r := range h.valid(w) {
		it := w.get(r.Key)
		cl, _ := w.one.Client(tenant, before[r.Key].PlatformIDs.ONe)
		if it.Customer.PlatformIDs.ONe != before[r.Key].PlatformIDs.ONe || it.Customer.Name != before[r.Key].Name ||
			cl.ExternalID != r.Key || cl.Name != before[r.Key].Name {
			t.Errorf("ERP customer %s (%q, ONe %s) became %q bound to %s; its ONe client has external id %q, name %q",
				r.Key, before[r.Key].Name, before[r.Key].PlatformIDs.ONe, it.Customer.Name, it.Customer.PlatformIDs.ONe, cl.ExternalID, cl.Name)
		}
	}
	if cl, _ := w.one.Client(tenant, created.ClientID); cl.ExternalID != "" {
		t.Errorf("the registration got ERP key %q although the key is taken", cl.ExternalID)
	}
	var n int
	if err := s.tab.DB().QueryRow(`SELECT COUNT(*) FROM web_customers`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows in the inbound table (%v), want none", n, err)
	}
	refused := false
	for _, d := range deadLetters(t, w, h) {
		switch {
		case strings.Contains(d.Key, ":pull:"+created.ClientID):
			refused = strings.Contains(d.LastError, "must not overlap")
		case !strings.Contains(d.Key, ":push:"):
			t.Errorf("dead letter %s: %s", d.Key, d.LastError)
		}
	}
	if !refused {
		t.Fatalf("the registration is not a dead letter saying the keys overlap: %+v", deadLetters(t, w, h))
	}
	// The table's customer 1 goes on syncing to its own ONe client.
	prev, ok := before["1"]
	if !ok {
		t.Fatal("no valid table customer numbered 1")
	}
	s.rename(t, "1", "Renamed In The ERP After The Import Ltd", sh.stamp())
	w.sync()
	if got, _ := h.record(w, prev.PlatformIDs.ONe); got.Name != "Renamed In The ERP After The Import Ltd" {
		t.Errorf("ERP customer 1 was renamed; its ONe client %s is still named %q", prev.PlatformIDs.ONe, got.Name)
	}
	if got, _ := h.record(w, created.ClientID); got.Name != storefrontRegistration.Name {
		t.Errorf("the rename of ERP customer 1 reached the registration's ONe client %s (now %q)", created.ClientID, got.Name)
	}
}
