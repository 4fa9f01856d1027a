package sqlerp

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
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

// layout is the demo ERP layout with another key column type, cursor
// column type or a separate inbound table.
type layout struct {
	// keyDecl declares the erp_key column (default TEXT PRIMARY KEY).
	keyDecl string
	// cursorDecl declares updated_at (default the dialect's timestamp type, NOT NULL).
	cursorDecl string
	// key maps a generated record to its key (nil: the record's own).
	key func(erpgen.Record) string
	// inboundKey, when set, creates a separate inbound table
	// web_customers whose key column is web_no, declared so.
	inboundKey string
}

// numericKey maps "S0000001" to 830000001: unique per prefix letter and
// in the records' order.
func numericKey(r erpgen.Record) string {
	n, err := strconv.Atoi(r.Key[len(r.Key)-7:])
	if err != nil || len(r.Key) != 8 {
		panic("unexpected erpgen key " + r.Key)
	}
	return strconv.Itoa(int(r.Key[0])*10_000_000 + n)
}

// uuidKey maps a record to a UUID, in the records' order.
func uuidKey(r erpgen.Record) string {
	return "00000000-0000-4000-8000-" + fmt.Sprintf("%012s", numericKey(r))
}

// createLayout creates the layout's tables in db.
func createLayout(ctx context.Context, t testing.TB, db *sql.DB, d Dialect, table string, l layout) {
	t.Helper()
	qt, _ := QuoteIdent(table)
	keyDecl := cmpOr(l.keyDecl, "TEXT PRIMARY KEY")
	cursorDecl := cmpOr(l.cursorDecl, d.TimestampType+" NOT NULL")
	body := func(key, keyDecl string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%q %s", key, keyDecl)
		for _, c := range erpgen.Columns() {
			fmt.Fprintf(&b, ", %q %s", c, demoType(d, c))
		}
		for _, c := range []string{erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn} {
			fmt.Fprintf(&b, ", %q BOOLEAN NOT NULL DEFAULT FALSE", c)
		}
		fmt.Fprintf(&b, ", %q TEXT, %q TEXT, %q %s", erpgen.ONeIDColumn, erpgen.CustomerAPIColumn, erpgen.UpdatedAtColumn, cursorDecl)
		return b.String()
	}
	stmts := []string{fmt.Sprintf("CREATE TABLE %s (%s)", qt, body(erpgen.KeyColumn, keyDecl))}
	cfg := layoutConfig(d, "", table, l)
	ix, err := ChangesIndex(cfg, strings.ReplaceAll(table, ".", "_")+"_changes")
	if err != nil {
		t.Fatal(err)
	}
	stmts = append(stmts, ix)
	if l.inboundKey != "" {
		qi, _ := QuoteIdent(cfg.InboundTable)
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s (%s)", qi, body("web_no", l.inboundKey)))
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func layoutConfig(d Dialect, dsn, table string, l layout) Config {
	cfg := DemoConfig(d.Driver, dsn, table)
	if l.inboundKey != "" {
		schema, _ := splitTable(table)
		cfg.InboundTable = "web_customers"
		if schema != "" {
			cfg.InboundTable = schema + ".web_customers"
		}
		cfg.InboundKeyColumn = "web_no"
	}
	return cfg
}

// openLayout creates the layout (SQLite when dsn is "", else in a fresh
// PostgreSQL schema) and opens the adapter on it.
func openLayout(t *testing.T, dsn string, l layout) *Table {
	t.Helper()
	ctx := context.Background()
	d, table := SQLite(), DemoTable
	var db *sql.DB
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "erp.db")
		var err error
		if db, err = sql.Open("sqlite", SQLiteDSN(dsn)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
	} else {
		var schema string
		db, schema = pgtest.Schema(t, dsn, "erptest")
		d, table = Postgres(), schema+"."+DemoTable
	}
	createLayout(ctx, t, db, d, table, l)
	tab, err := Open(ctx, layoutConfig(d, dsn, table, l), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	return tab
}

func layoutHarness(tab *Table, l layout) erptest.Harness {
	h := harness(tab)
	h.Key = l.key
	if l.key != nil {
		h.Put = func(t *testing.T, at time.Time, recs ...erpgen.Record) {
			t.Helper()
			mapped := slices.Clone(recs)
			for i := range mapped {
				mapped[i].Key = l.key(recs[i])
			}
			if err := InsertDemoRecords(context.Background(), tab.DB(), tab.Dialect(), tab.cfg.Table, mapped, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	return h
}

var sqliteLayouts = map[string]layout{
	"IntegerKey": {keyDecl: "INTEGER PRIMARY KEY", key: numericKey},
	// A text cursor column written by the driver: compared as timestamps all the same.
	"TextCursor":                {cursorDecl: "TEXT NOT NULL"},
	"InboundTableIntegerKey":    {inboundKey: "INTEGER PRIMARY KEY"},
	"InboundTableTextKey":       {inboundKey: "TEXT PRIMARY KEY"},
	"IntegerKeysInboundTextKey": {keyDecl: "INTEGER PRIMARY KEY", key: numericKey, inboundKey: "TEXT PRIMARY KEY"},
}

var postgresLayouts = map[string]layout{
	"BigintIdentityKey": {keyDecl: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", key: numericKey},
	"SerialKey":         {keyDecl: "SERIAL PRIMARY KEY", key: numericKey},
	"UUIDKey":           {keyDecl: "UUID PRIMARY KEY DEFAULT gen_random_uuid()", key: uuidKey},
	"TimestampCursor":   {cursorDecl: "TIMESTAMP NOT NULL"},
	// The inbound table numbers customers itself (GENERATED ALWAYS: an
	// update by key needs OVERRIDING SYSTEM VALUE).
	"InboundTableIdentityKey": {keyDecl: "BIGINT PRIMARY KEY", key: numericKey, inboundKey: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
	"InboundTableUUIDKey":     {inboundKey: "UUID PRIMARY KEY DEFAULT gen_random_uuid()"},
}

// TestConformanceLayoutsSQLite runs the conformance suite on integer keys,
// a text cursor column and separate inbound tables.
func TestConformanceLayoutsSQLite(t *testing.T) {
	for name, l := range sqliteLayouts {
		t.Run(name, func(t *testing.T) {
			erptest.TestAdapter(t, func(t *testing.T) erptest.Harness { return layoutHarness(openLayout(t, "", l), l) })
		})
	}
}

// TestConformanceLayoutsPostgres runs the conformance suite on bigint,
// integer and uuid keys, timestamp and date cursors and separate inbound
// tables.
func TestConformanceLayoutsPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	for name, l := range postgresLayouts {
		t.Run(name, func(t *testing.T) {
			erptest.TestAdapter(t, func(t *testing.T) erptest.Harness { return layoutHarness(openLayout(t, dsn, l), l) })
		})
	}
}

// foreignTable is a customer table written by another tool: text keys,
// a cursor column of declared type decl holding what the tool wrote.
func foreignTable(t *testing.T, db *sql.DB, d Dialect, table, decl string, kind ...string) *Table {
	t.Helper()
	qt, _ := QuoteIdent(table)
	q := fmt.Sprintf(`CREATE TABLE %s (k TEXT PRIMARY KEY, nm TEXT, tin TEXT, flag BOOLEAN NOT NULL DEFAULT TRUE, upd %s)`, qt, decl)
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Driver: d.Driver, Table: table, KeyColumn: "k", CursorColumn: "upd",
		Rules: []mapping.FieldRule{{ERP: "nm", Field: "name"}, {ERP: "tin", Field: "tin"}},
		Flags: []PlatformColumn{{Platform: mapping.PlatformONe, Column: "flag"}}}
	if len(kind) > 0 {
		cfg.CursorKind = kind[0]
	}
	tab, err := New(db, d, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func insertForeign(t *testing.T, tab *Table, key string, upd any) {
	t.Helper()
	qt, _ := QuoteIdent(tab.cfg.Table)
	q := fmt.Sprintf(`INSERT INTO %s (k, nm, tin, upd) VALUES (%s, 'Firma', '1234567890', %s)`, qt, tab.d.Placeholder(1), tab.d.Placeholder(2))
	if _, err := tab.DB().Exec(q, key, upd); err != nil {
		t.Fatal(err)
	}
}

// drainAll reads every page from cursor; it fails on an error or a pass
// that does not end.
func drainAll(t *testing.T, a erp.Adapter, cur string, limit int) ([]string, string) {
	t.Helper()
	var keys []string
	for range 10_000 {
		p, err := a.Changes(context.Background(), cur, limit)
		if err != nil {
			t.Fatalf("Changes(%q, %d): %v", cur, limit, err)
		}
		for _, it := range p.Items {
			keys = append(keys, it.Key)
		}
		if len(p.Items) > 0 && p.Cursor == cur {
			t.Fatalf("the cursor did not move: %q", cur)
		}
		cur = p.Cursor
		if !p.More {
			return keys, cur
		}
	}
	t.Fatal("the pass never ended")
	return nil, ""
}

// TestForeignTimestampFormats: a timestamp column that another tool
// wrote in every common notation, mixed, many rows per instant: a pass in
// small pages returns every row once, in (instant, key) order.
func TestForeignTimestampFormats(t *testing.T) {
	base := time.Date(2026, 12, 1, 23, 24, 13, 0, time.UTC)
	warsaw := time.FixedZone("CET", 3600)
	type format struct {
		write func(time.Time) any
		// millis: the notation keeps milliseconds (else whole seconds).
		millis bool
	}
	formats := []format{
		{func(ts time.Time) any { return ts.Format("2006-01-02 15:04:05") }, false},     // CURRENT_TIMESTAMP
		{func(ts time.Time) any { return ts.Format("2006-01-02T15:04:05.000Z") }, true}, // ISO, JavaScript
		{func(ts time.Time) any { return ts.In(warsaw).Format(time.RFC3339Nano) }, true},
		{func(ts time.Time) any { return ts.In(warsaw).Format("2006-01-02 15:04:05-0700") }, false},
		{func(ts time.Time) any { return ts.String() }, true},                          // Go, as modernc.org/sqlite writes time.Time
		{func(ts time.Time) any { return ts.Add(time.Nanosecond).String() }, true},     // nanoseconds
		{func(ts time.Time) any { return ts.Unix() }, false},                           // Unix seconds
		{func(ts time.Time) any { return float64(ts.UnixMilli()) / 1000 }, true},       // Unix seconds, real
		{func(ts time.Time) any { return ts }, true},                                   // the driver's own
		{func(ts time.Time) any { return ts.Format("2006-01-02 15:04:05.000") }, true}, // strftime('%Y-%m-%d %H:%M:%f')
		{func(ts time.Time) any { return ts.Format("2006-01-02T15:04:05") }, false},
	}
	run := func(t *testing.T, tab *Table, value func(any) any) {
		// Seven instants (one with milliseconds), seven rows each, keys in
		// the opposite order of the instants.
		type row struct {
			key string
			at  time.Time
		}
		var rows []row
		n := 0
		for i := range 7 {
			at := base.Add(time.Duration(6-i) * time.Second)
			if i == 3 {
				at = at.Add(500 * time.Millisecond)
			}
			for j := range 7 {
				key := fmt.Sprintf("K%03d", n)
				f := formats[(i+j)%len(formats)]
				insertForeign(t, tab, key, value(f.write(at)))
				if !f.millis {
					rows = append(rows, row{key, at.Truncate(time.Second)})
				} else {
					rows = append(rows, row{key, at})
				}
				n++
			}
		}
		slices.SortFunc(rows, func(a, b row) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return strings.Compare(a.key, b.key)
		})
		var want []string
		for _, r := range rows {
			want = append(want, r.key)
		}
		for _, size := range []int{1, 2, 3, 5, 100} {
			got, cur := drainAll(t, tab, "", size)
			if !slices.Equal(got, want) {
				t.Fatalf("page size %d:\n got %v\nwant %v", size, got, want)
			}
			if p, err := tab.Changes(context.Background(), cur, size); err != nil || len(p.Items) != 0 {
				t.Fatalf("after the pass: %d items, %v", len(p.Items), err)
			}
		}
		// The customers' change times are the instants.
		p, err := tab.Changes(context.Background(), "", 1)
		if err != nil || !p.Items[0].Customer.UpdatedAt.Equal(rows[0].at) {
			t.Fatalf("UpdatedAt = %v, want %v (%v)", p.Items[0].Customer.UpdatedAt, rows[0].at, err)
		}
	}
	for _, decl := range []string{"TEXT", "TIMESTAMP", "DATETIME", "", "INTEGER"} {
		for _, index := range []bool{true, false} {
			t.Run(fmt.Sprintf("SQLite/%s/index=%v", cmpOr(decl, "untyped"), index), func(t *testing.T) {
				db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "erp.db")))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				tab := foreignTable(t, db, SQLite(), "customers", decl)
				if index {
					ix, err := ChangesIndex(tab.cfg, "customers_changes")
					if err != nil {
						t.Fatal(err)
					}
					if _, err := db.Exec(ix); err != nil {
						t.Fatal(err)
					}
				}
				run(t, tab, func(v any) any { return v })
			})
		}
	}
	// PostgreSQL parses the text when it is written; Unix seconds are
	// written as what they mean.
	t.Run("Postgres/TIMESTAMPTZ", func(t *testing.T) {
		db, schema := pgtest.Schema(t, pgtest.DSN(t), "erptest")
		tab := foreignTable(t, db, Postgres(), schema+".customers", "TIMESTAMPTZ")
		if ix, err := ChangesIndex(tab.cfg, "customers_changes"); err != nil {
			t.Fatal(err)
		} else if _, err := db.Exec(ix); err != nil {
			t.Fatal(err)
		}
		run(t, tab, func(v any) any {
			switch x := v.(type) {
			case int64:
				return time.Unix(x, 0)
			case float64:
				return unixTime(x)
			case string:
				// Go's notation, as PostgreSQL does not read it.
				if ts, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", x); err == nil {
					return ts
				}
			}
			return v
		})
	})
}

// TestSQLiteIssueExamples: the two reports of the issue, 41 customers
// whose updated_at another tool wrote as CURRENT_TIMESTAMP text, or as ISO
// text with milliseconds, read four at a time.
func TestSQLiteIssueExamples(t *testing.T) {
	for name, value := range map[string]string{
		"CURRENT_TIMESTAMP": "2024-12-01 23:24:13",
		"ISO":               "2024-12-01T23:24:13.123Z",
	} {
		t.Run(name, func(t *testing.T) {
			db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "erp.db")))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			tab := foreignTable(t, db, SQLite(), "customers", "TIMESTAMP NOT NULL")
			var want []string
			for i := range 41 {
				key := fmt.Sprintf("C%02d", i)
				insertForeign(t, tab, key, value)
				want = append(want, key)
			}
			got, cur := drainAll(t, tab, "", 4)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d customers %v", len(got), got)
			}
			// A later change by the same tool is read once.
			if _, err := db.Exec(`UPDATE customers SET nm = 'Nowa', upd = CURRENT_TIMESTAMP WHERE k = 'C07'`); err != nil {
				t.Fatal(err)
			}
			got, _ = drainAll(t, tab, cur, 4)
			if !slices.Equal(got, []string{"C07"}) {
				t.Fatalf("after an update: %v", got)
			}
		})
	}
}

// TestUnorderableCursor: a row whose cursor column is NULL (or, in SQLite,
// text that is no timestamp) stops the pass with an error naming the
// column and the row, after the rows that can be ordered; the pass ends.
func TestUnorderableCursor(t *testing.T) {
	run := func(t *testing.T, tab *Table, bad map[string]any) {
		ctx := context.Background()
		for i := range 7 {
			insertForeign(t, tab, fmt.Sprintf("K%d", i), time.Date(2026, 12, 1, 10, i%3, 0, 0, time.UTC))
		}
		for k, v := range bad {
			insertForeign(t, tab, k, v)
		}
		var got []string
		cur := ""
		var err error
		for calls := 0; ; calls++ {
			if calls > 20 {
				t.Fatal("Changes kept returning pages")
			}
			var p erp.Page
			if p, err = tab.Changes(ctx, cur, 2); err != nil {
				break
			}
			for _, it := range p.Items {
				got = append(got, it.Key)
			}
			cur = p.Cursor
			if !p.More {
				t.Fatalf("the pass ended without an error; read %v", got)
			}
		}
		if len(got) != 7 {
			t.Errorf("read %v before the error, want the 7 orderable rows", got)
		}
		msg := err.Error()
		if !strings.Contains(msg, `cursor column "upd"`) || apierr.Classify(err) != apierr.Permanent {
			t.Fatalf("error %v: want a permanent error naming the cursor column", err)
		}
		named := ""
		for k := range bad {
			if strings.Contains(msg, `"`+k+`"`) {
				named = k
			}
		}
		if named == "" {
			t.Fatalf("error %v names none of the rows %v", err, bad)
		}
		// Asking again gives the error again, at once.
		if _, err2 := tab.Changes(ctx, cur, 2); err2 == nil || err2.Error() != msg {
			t.Fatalf("again: %v", err2)
		}
		// The row is still readable by key.
		if it, err := tab.Get(ctx, named); err != nil || !it.Customer.UpdatedAt.IsZero() {
			t.Fatalf("Get(%s) = %+v, %v", named, it, err)
		}
		// Fixed rows are read after the cursor.
		qt, _ := QuoteIdent(tab.cfg.Table)
		if _, err := tab.DB().Exec(fmt.Sprintf("UPDATE %s SET upd = %s", qt, tab.d.Placeholder(1))+" WHERE upd IS NULL OR k LIKE 'Z%'",
			time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		more, _ := drainAll(t, tab, cur, 2)
		if len(more) != len(bad) {
			t.Fatalf("after fixing: %v", more)
		}
	}
	t.Run("SQLite", func(t *testing.T) {
		db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "erp.db")))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		run(t, foreignTable(t, db, SQLite(), "customers", "TIMESTAMP"), map[string]any{"Z1": nil, "Z2": "garbage"})
	})
	t.Run("Postgres", func(t *testing.T) {
		db, schema := pgtest.Schema(t, pgtest.DSN(t), "erptest")
		run(t, foreignTable(t, db, Postgres(), schema+".customers", "TIMESTAMPTZ"), map[string]any{"Z1": nil})
	})
	t.Run("SQLiteVersionText", func(t *testing.T) {
		db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "erp.db")))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tab := foreignTable(t, db, SQLite(), "customers", "", CursorVersion)
		for i, v := range []any{int64(1), int64(2), "x3"} {
			insertForeign(t, tab, fmt.Sprintf("K%d", i), v)
		}
		_, err = tab.Changes(context.Background(), "", 10)
		if err == nil || !strings.Contains(err.Error(), `"K2"`) || !strings.Contains(err.Error(), `"x3"`) {
			t.Fatalf("a text version: %v", err)
		}
	})
}

// TestLegacyCursors: cursors stored by earlier versions keep working.
func TestLegacyCursors(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	t.Run("SQLite", func(t *testing.T) {
		tab := openSQLite(t)
		h := harness(tab)
		recs := erpgen.New(erpgen.Options{Seed: 3}).Records(9)
		for i := range recs {
			recs[i].SyncONe = true
		}
		h.Put(t, t0, recs[:3]...)
		h.Put(t, t0.Add(time.Second), recs[3:6]...)
		h.Put(t, t0.Add(2*time.Second), recs[6:]...)
		// What the previous version wrote after recs[4].
		old := "t|" + t0.Add(time.Second).Format(time.RFC3339Nano) + "|" + recs[4].Key
		got, cur := drainAll(t, tab, old, 2)
		// It resumes at the start of the instant: recs[3:] (recs[3] and
		// recs[4] again), never before it.
		want := []string{recs[3].Key, recs[4].Key, recs[5].Key, recs[6].Key, recs[7].Key, recs[8].Key}
		if !slices.Equal(got, want) {
			t.Fatalf("from an old cursor: %v, want %v", got, want)
		}
		if !strings.HasPrefix(cur, "u|") {
			t.Fatalf("new cursor %q", cur)
		}
	})
	t.Run("Postgres", func(t *testing.T) {
		tab := openPostgres(t, pgtest.DSN(t))
		h := harness(tab)
		recs := erpgen.New(erpgen.Options{Seed: 3}).Records(6)
		for i := range recs {
			recs[i].SyncONe = true
		}
		h.Put(t, t0, recs[:3]...)
		h.Put(t, t0.Add(time.Second), recs[3:]...)
		old := "t|" + t0.Format(time.RFC3339Nano) + "|" + recs[1].Key
		got, cur := drainAll(t, tab, old, 2)
		if want := []string{recs[2].Key, recs[3].Key, recs[4].Key, recs[5].Key}; !slices.Equal(got, want) {
			t.Fatalf("from an old cursor: %v, want %v", got, want)
		}
		if !strings.HasPrefix(cur, "t|") {
			t.Fatalf("new cursor %q", cur)
		}
	})
}

// TestIntegerKeysInKeyOrder: integer keys list in numeric order, and key
// strings that are no integer are not found (not a database error).
func TestIntegerKeysInKeyOrder(t *testing.T) {
	run := func(t *testing.T, tab *Table) {
		ctx := context.Background()
		h := layoutHarness(tab, layout{key: func(r erpgen.Record) string { return r.Key }})
		var recs []erpgen.Record
		for i, k := range []string{"100", "9", "10", "2", "1000"} {
			r := erpgen.New(erpgen.Options{Seed: uint64(i + 1)}).Records(1)[0]
			r.Key, r.SyncONe = k, true
			recs = append(recs, r)
		}
		h.Put(t, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), recs...)
		var all []string
		for after := ""; ; {
			ks, err := tab.ListKeys(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(ks) == 0 {
				break
			}
			all = append(all, ks...)
			after = ks[len(ks)-1]
		}
		if want := []string{"2", "9", "10", "100", "1000"}; !slices.Equal(all, want) {
			t.Fatalf("ListKeys: %v, want %v", all, want)
		}
		items, err := tab.ListItems(ctx, "9", 10)
		if err != nil || len(items) != 3 || items[0].Key != "10" {
			t.Fatalf("ListItems after 9: %v, %v", keysOf(items), err)
		}
		got, _ := drainAll(t, tab, "", 2)
		if want := []string{"2", "9", "10", "100", "1000"}; !slices.Equal(got, want) {
			t.Fatalf("Changes: %v, want %v", got, want)
		}
		for _, k := range []string{"x", "", "99999999999999999999", "-"} {
			if _, err := tab.Get(ctx, k); !errors.Is(err, erp.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", k, err)
			}
			if err := tab.SetPlatformID(ctx, k, mapping.PlatformONe, "org:x"); !errors.Is(err, erp.ErrNotFound) {
				t.Errorf("SetPlatformID(%q) = %v, want ErrNotFound", k, err)
			}
		}
		if sch, _ := tab.schema(ctx); sch.key.kind == keyLoose {
			// SQLite's integer columns hold text too: listed after the numbers.
			if ks, err := tab.ListKeys(ctx, "x", 2); err != nil || len(ks) != 0 {
				t.Errorf("ListKeys after a text: %v, %v", ks, err)
			}
			return
		}
		if _, err := tab.ListKeys(ctx, "x", 2); err == nil || apierr.Classify(err) != apierr.Permanent {
			t.Errorf("ListKeys after a non-integer: %v", err)
		}
		if _, err := tab.Changes(ctx, "t|2026-11-01T08:00:00Z|x", 2); tab.d.Name == "postgres" && (err == nil || apierr.Classify(err) != apierr.Permanent) {
			t.Errorf("a cursor with a non-integer key: %v", err)
		}
	}
	t.Run("SQLiteRowid", func(t *testing.T) { run(t, openLayout(t, "", layout{keyDecl: "INTEGER PRIMARY KEY"})) })
	t.Run("SQLiteInteger", func(t *testing.T) { run(t, openLayout(t, "", layout{keyDecl: "BIGINT NOT NULL UNIQUE"})) })
	t.Run("PostgresInteger", func(t *testing.T) {
		run(t, openLayout(t, pgtest.DSN(t), layout{keyDecl: "INTEGER PRIMARY KEY"}))
	})
	t.Run("PostgresNumeric", func(t *testing.T) {
		run(t, openLayout(t, pgtest.DSN(t), layout{keyDecl: "NUMERIC(12) PRIMARY KEY"}))
	})
}

func keysOf(items []erp.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

// TestInboundTable: customers from the platforms go to the inbound table
// (its own key column name, numbered by the database); Get, the
// write-backs and a repeated upsert find them there, and in the table once
// the ERP has moved them.
func TestInboundTable(t *testing.T) {
	run := func(t *testing.T, tab *Table) {
		ctx := context.Background()
		in := erptest.Expected(erpgen.New(erpgen.Options{Seed: 21}).Records(1)[0])
		in.ERPKey = ""
		in.Flags = mapping.Flags{ONe: true}
		in.PlatformIDs = mapping.PlatformIDs{ONe: "org:36f2ecdc-1681-4854-a81e-d6c7dd875f48"}
		key, err := tab.Upsert(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strconv.Atoi(key); err != nil {
			t.Fatalf("new key %q is not the inbound table's number", key)
		}
		it, err := tab.Get(ctx, key)
		if err != nil || it.Key != key || it.Customer.Name != in.Name || it.Err != nil {
			t.Fatalf("Get(%s) = %+v, %v", key, it, err)
		}
		if again, err := tab.Upsert(ctx, in); err != nil || again != key {
			t.Fatalf("repeated Upsert: %q, %v", again, err)
		}
		var n int
		qi, _ := QuoteIdent(tab.cfg.InboundTable)
		if err := tab.DB().QueryRow("SELECT COUNT(*) FROM " + qi).Scan(&n); err != nil || n != 1 {
			t.Fatalf("inbound rows: %d, %v", n, err)
		}
		if err := tab.SetPlatformID(ctx, key, mapping.PlatformCustomerAPI, "9b2f1c1e-0000-4000-8000-000000000001"); err != nil {
			t.Fatal(err)
		}
		if err := tab.MarkDeleted(ctx, key); err != nil {
			t.Fatal(err)
		}
		// Not a customer of the table yet.
		if p, err := tab.Changes(ctx, "", 10); err != nil || len(p.Items) != 0 {
			t.Fatalf("Changes: %d items, %v", len(p.Items), err)
		}
		// The ERP moves it into the table under its own key.
		qt, _ := QuoteIdent(tab.cfg.Table)
		if _, err := tab.DB().Exec(fmt.Sprintf(`INSERT INTO %s (erp_key, name, customer_type, tin, sync_one, one_client_id, updated_at)
			SELECT 'E-1', name, customer_type, tin, sync_one, one_client_id, updated_at FROM %s`, qt, qi)); err != nil {
			t.Fatal(err)
		}
		if _, err := tab.DB().Exec("DELETE FROM " + qi); err != nil {
			t.Fatal(err)
		}
		if again, err := tab.Upsert(ctx, in); err != nil || again != "E-1" {
			t.Fatalf("Upsert after the move: %q, %v", again, err)
		}
		if _, err := tab.Get(ctx, "E-1"); err != nil {
			t.Fatal(err)
		}
	}
	l := layout{inboundKey: "INTEGER PRIMARY KEY"}
	t.Run("SQLite", func(t *testing.T) { run(t, openLayout(t, "", l)) })
	l.inboundKey = "BIGSERIAL PRIMARY KEY"
	t.Run("Postgres", func(t *testing.T) { run(t, openLayout(t, pgtest.DSN(t), l)) })
}

// TestSchemaProblems: Open names what the configuration expects and the
// database lacks.
func TestSchemaProblems(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "erp.db")
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createLayout(ctx, t, db, SQLite(), DemoTable, layout{})
	if _, err := db.Exec(`CREATE TABLE web (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	cfg := DemoConfig("sqlite", path, DemoTable)
	cfg.Rules = slices.Clone(cfg.Rules)
	cfg.Rules[3].ERP = "no_such_column"
	cfg.InboundTable = "web"
	cfg.InboundKeyColumn = "web_no"
	_, err = Open(ctx, cfg, nil)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	for _, want := range []string{`rules[3].erp: column "no_such_column" not found in erp_customers`,
		`inbound_key_column: column "web_no" not found in web`, `flags[0].column: column "sync_one" not found in web`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Run("PostgresTextCursor", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		_, schema := pgtest.Schema(t, dsn, "erptest")
		l := layout{cursorDecl: "TEXT"}
		createLayout(ctx, t, mustOpen(t, dsn), Postgres(), schema+"."+DemoTable, l)
		_, err := Open(ctx, layoutConfig(Postgres(), dsn, schema+"."+DemoTable, l), nil)
		if err == nil || !strings.Contains(err.Error(), `cursor_column: "updated_at" is text`) {
			t.Fatalf("Open on a text cursor column: %v", err)
		}
	})
	t.Run("PostgresIntegerKeyWithoutDefault", func(t *testing.T) {
		tab := openLayout(t, pgtest.DSN(t), layout{keyDecl: "BIGINT PRIMARY KEY"})
		c := erptest.Expected(erpgen.New(erpgen.Options{Seed: 2}).Records(1)[0])
		c.ERPKey, c.PlatformIDs = "", mapping.PlatformIDs{ONe: "org:36f2ecdc-1681-4854-a81e-d6c7dd875f48"}
		_, err := tab.Upsert(ctx, c)
		if err == nil || !strings.Contains(err.Error(), "without a default") || apierr.Classify(err) != apierr.Permanent {
			t.Fatalf("Upsert of a new customer: %v", err)
		}
	})
}

func mustOpen(t *testing.T, dsn string) *sql.DB {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestVersionCursorPostgres: an integer row version and bigint keys.
func TestVersionCursorPostgres(t *testing.T) {
	ctx := context.Background()
	db, schema := pgtest.Schema(t, pgtest.DSN(t), "erptest")
	if _, err := db.Exec(`CREATE TABLE ` + schema + `.v (k BIGINT PRIMARY KEY, nm TEXT, tin TEXT, flag BOOLEAN, ver INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Driver: "pgx", Table: schema + ".v", KeyColumn: "k", CursorColumn: "ver", CursorKind: CursorVersion,
		Rules: []mapping.FieldRule{{ERP: "nm", Field: "name"}, {ERP: "tin", Field: "tin"}},
		Flags: []PlatformColumn{{Platform: mapping.PlatformONe, Column: "flag"}}}
	vt, err := New(db, Postgres(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, ver := range []int{5, 5, 5, 7, 7, 9} {
		if _, err := db.Exec(`INSERT INTO `+schema+`.v VALUES ($1, 'Firma', '1234567890', TRUE, $2)`, 19-i, ver); err != nil {
			t.Fatal(err)
		}
	}
	got, cur := drainAll(t, vt, "", 1)
	if want := "17,18,19,15,16,14"; strings.Join(got, ",") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	if _, err := vt.Upsert(ctx, mapping.Customer{ERPKey: "15", Type: mapping.Company, Name: "Nowa", TIN: "1234567890", Flags: mapping.Flags{ONe: true}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := drainAll(t, vt, cur, 10); !slices.Equal(got, []string{"15"}) {
		t.Fatalf("after upsert: %v", got)
	}
	if _, err := vt.Changes(ctx, "t|2026-11-01T08:00:00Z|15", 10); apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("a timestamp cursor on a version table: %v", err)
	}
}

// TestAdvisesIndex: without the index a SQLite timestamp cursor needs,
// the first Changes says which to create.
func TestAdvisesIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "erp.db")
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE customers (k TEXT PRIMARY KEY, nm TEXT, tin TEXT, flag BOOLEAN, upd TEXT)`); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Driver: "sqlite", DSN: path, Table: "customers", KeyColumn: "k", CursorColumn: "upd",
		Rules: []mapping.FieldRule{{ERP: "nm", Field: "name"}, {ERP: "tin", Field: "tin"}},
		Flags: []PlatformColumn{{Platform: mapping.PlatformONe, Column: "flag"}}}
	var logs bytes.Buffer
	changes := func() {
		t.Helper()
		tab, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer tab.Close()
		for range 2 {
			if _, err := tab.Changes(ctx, "", 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	changes()
	ix, _ := ChangesIndex(cfg, "customers_upd_changes")
	if !strings.Contains(logs.String(), "create the index") || !strings.Contains(logs.String(), "unixepoch") || strings.Count(logs.String(), "\n") != 1 {
		t.Fatalf("not one advice in %s", logs.String())
	}
	if _, err := db.Exec(ix); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	changes()
	if logs.Len() != 0 {
		t.Fatalf("advice with the index in place: %s", logs.String())
	}
}

func TestValidateInboundKeyColumn(t *testing.T) {
	cfg := DemoConfig("sqlite", "x.db", DemoTable)
	cfg.InboundKeyColumn = "web no"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "inbound_key_column: ") {
		t.Fatalf("bad identifier: %v", err)
	}
	cfg.InboundKeyColumn = "web_no"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "inbound_key_column: ") || !strings.Contains(err.Error(), "inbound_table") {
		t.Fatalf("an inbound key column without an inbound table: %v", err)
	}
	cfg.InboundTable = "web_customers"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresUnixSecondsCursor: a timestamp cursor of Unix seconds in an
// integer or a double precision column.
func TestPostgresUnixSecondsCursor(t *testing.T) {
	dsn := pgtest.DSN(t)
	for _, decl := range []string{"BIGINT", "INTEGER", "DOUBLE PRECISION"} {
		t.Run(decl, func(t *testing.T) {
			db, schema := pgtest.Schema(t, dsn, "erptest")
			tab := foreignTable(t, db, Postgres(), schema+".customers", decl+" NOT NULL")
			var want []string
			for i := range 9 {
				key := fmt.Sprintf("K%d", 8-i)
				insertForeign(t, tab, key, 1796167453+int64(i/3))
				want = append(want, key)
			}
			// Ties in key order.
			want = []string{"K6", "K7", "K8", "K3", "K4", "K5", "K0", "K1", "K2"}
			got, cur := drainAll(t, tab, "", 2)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			it, err := tab.Get(context.Background(), "K6")
			if err != nil || !it.Customer.UpdatedAt.Equal(time.Unix(1796167453, 0)) {
				t.Fatalf("UpdatedAt %v, %v", it.Customer.UpdatedAt, err)
			}
			// An upsert stamps the column with the time now.
			if _, err := tab.Upsert(context.Background(), mapping.Customer{ERPKey: "K0", Type: mapping.Company, Name: "Nowa", TIN: "1234567890",
				Flags: mapping.Flags{ONe: true}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := drainAll(t, tab, cur, 2); !slices.Equal(got, []string{"K0"}) {
				t.Fatalf("after an upsert: %v", got)
			}
		})
	}
}

// TestCursorFormat: positions survive their cursor string; a position
// never counts as after itself.
func TestCursorFormat(t *testing.T) {
	tab := openSQLite(t)
	ts := time.Date(2026, 12, 1, 23, 24, 13, 123456000, time.UTC)
	for _, c := range []struct {
		rep  curRep
		kind string
		p    position
		want string
	}{
		{curTime, CursorTimestamp, position{ts: ts, key: "K|1", keyed: true}, "t|2026-12-01T23:24:13.123456Z|K|1"},
		{curInt, CursorVersion, position{ver: -42, key: "7", keyed: true}, "v|-42|7"},
		{curUnix, CursorTimestamp, position{unix: 1796167453.123, key: "", keyed: true}, "u|1796167453.123|"},
	} {
		tab.cfg.CursorKind = c.kind
		sch := &schemaInfo{cur: c.rep, key: keyCol{kind: keyText}}
		s := tab.encodeCursor(c.rep, c.p)
		if s != c.want {
			t.Errorf("encode %+v = %q, want %q", c.p, s, c.want)
		}
		got, has, err := tab.decodeCursor(s, sch)
		if err != nil || !has || got.key != c.p.key || !got.keyed || !got.ts.Equal(c.p.ts) || got.ver != c.p.ver || got.unix != c.p.unix {
			t.Errorf("decode %q = %+v, %v", s, got, err)
		}
		if after(c.rep, got, c.p) || after(c.rep, c.p, got) {
			t.Errorf("%q is after itself", s)
		}
		next := c.p
		next.key += "x"
		if !after(c.rep, next, c.p) {
			t.Errorf("another key at the same value is not after %q", s)
		}
	}
	tab.cfg.CursorKind = CursorTimestamp
	for _, bad := range []string{"x", "t|x|k", "u|NaN|k", "v|1|k", "t|", "v|1", "u|NaN"} {
		if _, _, err := tab.decodeCursor(bad, &schemaInfo{cur: curUnix}); err == nil || apierr.Classify(err) != apierr.Permanent {
			t.Errorf("decode %q: %v", bad, err)
		}
	}
	// An old timestamp cursor on SQLite: after everything a millisecond
	// before its time, whatever the key.
	p, _, err := tab.decodeCursor("t|2026-12-01T23:24:13.1239Z|K", &schemaInfo{cur: curUnix})
	if err != nil || p.keyed || p.unix != 1796167453.122 {
		t.Fatalf("old cursor: %+v, %v", p, err)
	}
	if after(curUnix, position{unix: 1796167453.122, key: "Z", keyed: true}, p) || !after(curUnix, position{unix: 1796167453.123, keyed: true}, p) {
		t.Fatal("old cursor boundary")
	}
}
