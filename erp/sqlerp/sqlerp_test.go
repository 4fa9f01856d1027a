package sqlerp

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/erptest"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/mapping"
)

func openSQLite(t testing.TB) *Table {
	t.Helper()
	ctx := context.Background()
	cfg := DemoConfig("sqlite", filepath.Join(t.TempDir(), "erp.db"), DemoTable)
	tab, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), DemoTable); err != nil {
		t.Fatal(err)
	}
	return tab
}

func harness(tab *Table) erptest.Harness {
	return erptest.Harness{Adapter: tab, Put: func(t *testing.T, at time.Time, recs ...erpgen.Record) {
		t.Helper()
		if err := InsertDemoRecords(context.Background(), tab.DB(), tab.Dialect(), tab.cfg.Table, recs, at); err != nil {
			t.Fatal(err)
		}
	}}
}

func TestConformanceSQLite(t *testing.T) {
	erptest.TestAdapter(t, func(t *testing.T) erptest.Harness { return harness(openSQLite(t)) })
}

func openPostgres(t *testing.T, dsn string) *Table {
	t.Helper()
	ctx := context.Background()
	// Each harness gets its own schema, dropped at the end.
	_, schema := pgtest.Schema(t, dsn, "erptest")
	table := schema + "." + DemoTable
	tab, err := Open(ctx, DemoConfig("pgx", dsn, table), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), table); err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestConformancePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	erptest.TestAdapter(t, func(t *testing.T) erptest.Harness { return harness(openPostgres(t, dsn)) })
}

// TestGeneratedInvalidRowsSQLite: every invalid generated row (all kinds,
// invalid UTF-8 included) passes the adapter's core check and comes back
// as stored, so that the validation of a platform that refuses it (or the
// rules, for a phone that is no number) finds exactly its field error; the
// valid rows around it pass.
func TestGeneratedInvalidRowsSQLite(t *testing.T) {
	tab := openSQLite(t)
	recs := erpgen.New(erpgen.Options{Seed: 42, InvalidEvery: 3}).Records(300)
	if err := InsertDemoRecords(context.Background(), tab.DB(), tab.Dialect(), DemoTable, recs, time.Now()); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]erpgen.Record{}
	for _, r := range recs {
		byKey[r.Key] = r
	}
	page, err := tab.Changes(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[erpgen.Invalid]int{}
	for _, it := range page.Items {
		r := byKey[it.Key]
		err := it.Err
		if err != nil {
			// Only the rules' own field errors (a phone that is no
			// number) come with the item: the core check passes.
			var ve *mapping.ValidationError
			if r.Invalid == "" || !errors.As(err, &ve) || ve.Has("key") || ve.Has("type") {
				t.Errorf("%s (%q): the core check must pass, got %v", it.Key, r.Invalid, err)
				continue
			}
		} else {
			err = mapping.Validate(it.Customer)
		}
		if r.Invalid == "" {
			if err != nil {
				t.Errorf("%s: valid row refused: %v", it.Key, err)
			}
			continue
		}
		var ve *mapping.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != r.Invalid.Field() {
			t.Errorf("%s (%s): want exactly one error on %s, got %v", it.Key, r.Invalid, r.Invalid.Field(), err)
		}
		kinds[r.Invalid]++
	}
	if len(kinds) != len(erpgen.AllInvalid()) {
		t.Fatalf("not every invalid kind came through: %v", kinds)
	}
}

func TestVersionCursorAndTies(t *testing.T) {
	ctx := context.Background()
	tab := openSQLite(t)
	if _, err := tab.DB().ExecContext(ctx, `CREATE TABLE v (k TEXT PRIMARY KEY, nm TEXT, tin TEXT, flag INTEGER, ver INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Driver: "sqlite", Table: "v", KeyColumn: "k", CursorColumn: "ver", CursorKind: CursorVersion,
		Rules: []mapping.FieldRule{{ERP: "nm", Field: "name"}, {ERP: "tin", Field: "tin"}},
		Flags: []PlatformColumn{{Platform: mapping.PlatformONe, Column: "flag"}}}
	vt, err := New(tab.DB(), SQLite(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, ver := range []int{5, 5, 5, 7, 7, 9} {
		if _, err := tab.DB().ExecContext(ctx, `INSERT INTO v VALUES (?, ?, '1234567890', 1, ?)`, fmt.Sprintf("k%d", 9-i), "Firma", ver); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cur := ""
	for {
		p, err := vt.Changes(ctx, cur, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			got = append(got, it.Key)
		}
		cur = p.Cursor
		if !p.More {
			break
		}
	}
	if want := "k7,k8,k9,k5,k6,k4"; strings.Join(got, ",") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	// An upsert bumps the version past every row.
	if _, err := vt.Upsert(ctx, mapping.Customer{ERPKey: "k5", Type: mapping.Company, Name: "Nowa", TIN: "1234567890", Flags: mapping.Flags{ONe: true}}); err != nil {
		t.Fatal(err)
	}
	p, err := vt.Changes(ctx, cur, 10)
	if err != nil || len(p.Items) != 1 || p.Items[0].Key != "k5" || p.Items[0].Customer.Name != "Nowa" {
		t.Fatalf("after upsert: %+v, %v", p.Items, err)
	}
	if _, err := vt.Changes(ctx, "t|garbage", 10); apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("malformed cursor: %v", err)
	}
	if err := vt.MarkDeleted(ctx, "k5"); !errors.Is(err, erp.ErrUnsupported) {
		t.Fatalf("MarkDeleted without a column: %v", err)
	}
}

func TestConfigRejectsInjection(t *testing.T) {
	cfg := DemoConfig("sqlite", "x.db", `customers"; DROP TABLE x; --`)
	cfg.KeyColumn = "key column"
	cfg.Flags = append(cfg.Flags, PlatformColumn{Platform: "shop", Column: "f"})
	err := cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"table: ", "key_column: ", `flags[2].platform: unknown platform "shop"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if s := fmt.Sprint(DemoConfig("pgx", "postgres://u:s3cret@h/db", "t")); strings.Contains(s, "s3cret") {
		t.Fatalf("config printed its DSN: %s", s)
	}
	if q, err := QuoteIdent("erp.customers"); err != nil || q != `"erp"."customers"` {
		t.Fatalf("QuoteIdent: %q %v", q, err)
	}
}

func TestExtras(t *testing.T) {
	ctx := context.Background()
	tab := openSQLite(t)
	recs := erpgen.New(erpgen.Options{Seed: 9, UnflaggedEvery: 4}).Records(20)
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), DemoTable, recs, time.Now()); err != nil {
		t.Fatal(err)
	}
	n, err := tab.CountFlagged(ctx)
	flagged := 0
	for _, r := range recs {
		if r.Flagged() {
			flagged++
		}
	}
	if err != nil || n != flagged {
		t.Fatalf("CountFlagged = %d, %v; want %d", n, err, flagged)
	}
	var all []string
	after := ""
	for {
		ks, err := tab.ListKeys(ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) == 0 {
			break
		}
		all = append(all, ks...)
		after = ks[len(ks)-1]
	}
	if len(all) != flagged {
		t.Fatalf("ListKeys found %d, want %d", len(all), flagged)
	}
}

func TestSettleTimeHoldsBackRecentRows(t *testing.T) {
	ctx := context.Background()
	tab := openSQLite(t)
	tab.cfg.SettleTime = time.Minute
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tab.now = func() time.Time { return now }
	recs := erpgen.New(erpgen.Options{Seed: 5}).Records(4)
	for i := range recs {
		recs[i].SyncONe = true
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), DemoTable, recs[:2], now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), DemoTable, recs[2:], now.Add(-10*time.Second)); err != nil {
		t.Fatal(err)
	}
	p, err := tab.Changes(ctx, "", 10)
	if err != nil || len(p.Items) != 2 || p.Items[0].Key != recs[0].Key {
		t.Fatalf("settled rows: %d, %v", len(p.Items), err)
	}
	now = now.Add(time.Minute)
	p, err = tab.Changes(ctx, p.Cursor, 10)
	if err != nil || len(p.Items) != 2 || p.Items[0].Key != recs[2].Key {
		t.Fatalf("rows after settling: %d, %v", len(p.Items), err)
	}
}

// TestExpressionRulesReadColumnsAndLeaveThemOnWrite: an expression rule's
// columns are selected and read; an upsert (a platform change written
// back) leaves them untouched, since a computed field cannot be
// reversed, and writes the plain rules' columns. A missing expression
// column is found by the schema check.
func TestExpressionRulesReadColumnsAndLeaveThemOnWrite(t *testing.T) {
	ctx := context.Background()
	tab := openSQLite(t)
	if _, err := tab.DB().ExecContext(ctx, `CREATE TABLE p (k TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, kind TEXT, city TEXT, flag INTEGER, ver INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.DB().ExecContext(ctx, `INSERT INTO p VALUES ('k1', 'Jan', 'Kowalski', 'F', 'Kielce', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Driver: "sqlite", Table: "p", KeyColumn: "k", CursorColumn: "ver", CursorKind: CursorVersion,
		Rules: []mapping.FieldRule{
			{Expr: `first_name + " " + last_name`, Field: "name"},
			{Expr: `kind == "F" ? "individual" : "company"`, Field: "type"},
			{ERP: "city", Field: "billing.city"},
		},
		Flags: []PlatformColumn{{Platform: mapping.PlatformONe, Column: "flag"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pt, err := New(tab.DB(), SQLite(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := pt.Get(ctx, "k1")
	if err != nil || it.Err != nil || it.Customer.Name != "Jan Kowalski" || it.Customer.Type != mapping.Individual || it.Customer.Billing.City != "Kielce" {
		t.Fatalf("get: %+v %v %v", it.Customer, it.Err, err)
	}
	c := it.Customer
	c.Name, c.Billing.City = "Renamed On The Platform", "Radom"
	if _, err := pt.Upsert(ctx, c); err != nil {
		t.Fatal(err)
	}
	var first, last, kind, city string
	if err := tab.DB().QueryRowContext(ctx, `SELECT first_name, last_name, kind, city FROM p WHERE k = 'k1'`).Scan(&first, &last, &kind, &city); err != nil {
		t.Fatal(err)
	}
	if first != "Jan" || last != "Kowalski" || kind != "F" || city != "Radom" {
		t.Fatalf("after the write back: %q %q %q %q: the expression columns must stay, city must be written", first, last, kind, city)
	}

	cfg.Rules = append(cfg.Rules, mapping.FieldRule{Expr: `nickname + "!"`, Field: "internal_nickname"})
	bad, err := New(tab.DB(), SQLite(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Get(ctx, "k1"); err == nil || !strings.Contains(err.Error(), `column "nickname" not found`) {
		t.Fatalf("missing expression column: %v", err)
	}
}

// testUpsertBatch: a batch writes each customer as Upsert would, reads
// each back in the transaction (a later write of the batch sees an earlier
// one), and a customer refused (by validation, or by the database, which
// refuse makes refuse the name "Refused Ltd") fails alone: the others
// before and after it are written. A batch that fails as a whole writes
// nothing.
func testUpsertBatch(t *testing.T, tab *Table, refuse string) {
	ctx := context.Background()
	if _, err := tab.DB().ExecContext(ctx, refuse); err != nil {
		t.Fatal(err)
	}
	co := func(id, name string) mapping.Customer {
		return mapping.Customer{Type: mapping.Company, Name: name, TIN: "1234567890", Flags: mapping.Flags{ONe: true},
			PlatformIDs: mapping.PlatformIDs{ONe: id}}
	}
	invalid := co("c2", "Bravo")
	invalid.Type = "partnership"
	out, err := tab.UpsertBatch(ctx, []mapping.Customer{co("c1", "Alpha"), invalid, co("c3", "Refused Ltd"), co("c4", "Delta"), co("c1", "Alpha Renamed")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 5 {
		t.Fatalf("%d answers for 5 customers", len(out))
	}
	for i, want := range []struct{ key, name string }{{"ONE-c1", "Alpha"}, {}, {}, {"ONE-c4", "Delta"}, {"ONE-c1", "Alpha Renamed"}} {
		if want.key == "" {
			continue
		}
		if u := out[i]; u.Err != nil || u.Key != want.key || u.Item.Customer.Name != want.name {
			t.Errorf("customer %d: %q %q %v, want %s read back as %q", i, u.Key, u.Item.Customer.Name, u.Err, want.key, want.name)
		}
	}
	var ve *mapping.ValidationError
	if !errors.As(out[1].Err, &ve) || !ve.Has("type") {
		t.Errorf("invalid customer: %v, want a validation error on type", out[1].Err)
	}
	if apierr.Classify(out[2].Err) != apierr.Permanent {
		t.Errorf("customer the database refuses: %v, want a permanent error", out[2].Err)
	}
	for _, k := range []string{"ONE-c2", "ONE-c3"} {
		if _, err := tab.Get(ctx, k); !errors.Is(err, erp.ErrNotFound) {
			t.Errorf("refused customer %s: %v, want not written", k, err)
		}
	}
	for _, i := range []int{3, 4} {
		it, err := tab.Get(ctx, out[i].Key)
		if err != nil || !reflect.DeepEqual(it, out[i].Item) {
			t.Errorf("%s after the commit: %+v (%v), want what the batch read back, %+v", out[i].Key, it, err, out[i].Item)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tab.UpsertBatch(cancelled, []mapping.Customer{co("c9", "India")}); err == nil {
		t.Error("a batch under a cancelled context: no error")
	}
	if _, err := tab.Get(ctx, "ONE-c9"); !errors.Is(err, erp.ErrNotFound) {
		t.Errorf("a batch that failed: %v, want nothing written", err)
	}
}

func TestUpsertBatchSQLite(t *testing.T) {
	tab := openSQLite(t)
	if !tab.SerialWrites() {
		t.Error("SQLite: writers do not run side by side")
	}
	testUpsertBatch(t, tab, fmt.Sprintf(`CREATE TRIGGER refuse BEFORE INSERT ON %s WHEN NEW.name = 'Refused Ltd' BEGIN SELECT RAISE(ABORT, 'refused'); END`, DemoTable))
}

func TestUpsertBatchPostgres(t *testing.T) {
	tab := openPostgres(t, pgtest.DSN(t))
	if tab.SerialWrites() {
		t.Error("PostgreSQL: writers run side by side")
	}
	testUpsertBatch(t, tab, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT refuse CHECK (name <> 'Refused Ltd')`, tab.cfg.Table))
}
