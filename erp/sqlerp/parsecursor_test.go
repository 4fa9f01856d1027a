package sqlerp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/mapping"
)

// changedKeys reads every change from cur on and returns the keys.
func changedKeys(t *testing.T, tab *Table, cur string) []string {
	t.Helper()
	var keys []string
	for {
		p, err := tab.Changes(context.Background(), cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			keys = append(keys, it.Key)
		}
		cur = p.Cursor
		if !p.More {
			return keys
		}
	}
}

// testParseTimestampCursor: a plain RFC 3339 timestamp becomes a cursor
// from which the rows changed at that time or later are read; the
// adapter's own cursor passes; a malformed one is refused saying what is
// accepted.
func testParseTimestampCursor(t *testing.T, tab *Table) {
	ctx := context.Background()
	recs := erpgen.New(erpgen.Options{Seed: 3}).Records(3)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, r := range recs {
		r.SyncONe = true
		if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), tab.cfg.Table, []erpgen.Record{r}, base.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := tab.ParseCursor(ctx, "2026-12-01T11:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	got := changedKeys(t, tab, cur)
	if want := []string{recs[1].Key, recs[2].Key}; !slices.Equal(got, want) {
		t.Fatalf("from 11:00 (cursor %q): %v, want %v", cur, got, want)
	}
	cur, err = tab.ParseCursor(ctx, "2026-12-01T12:00:00+01:00")
	if err != nil {
		t.Fatal(err)
	}
	if got := changedKeys(t, tab, cur); !slices.Equal(got, []string{recs[1].Key, recs[2].Key}) {
		t.Fatalf("from 11:00Z written with an offset: %v", got)
	}
	// The adapter's own cursor, as cursor get prints it, passes unchanged.
	p, err := tab.Changes(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if own, err := tab.ParseCursor(ctx, p.Cursor); err != nil || own != p.Cursor {
		t.Fatalf("own cursor %q: %q, %v", p.Cursor, own, err)
	}
	if c, err := tab.ParseCursor(ctx, " "); err != nil || c != "" {
		t.Fatalf("empty: %q, %v", c, err)
	}
	for _, bad := range []string{"yesterday", "42", "2026-12-01", "v|1|k", "t|garbage"} {
		_, err := tab.ParseCursor(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("%q: %v, want an error naming the accepted forms", bad, err)
		}
	}
}

func TestParseCursorTimestampSQLite(t *testing.T) {
	testParseTimestampCursor(t, openSQLite(t))
}

func TestParseCursorTimestampPostgres(t *testing.T) {
	testParseTimestampCursor(t, openPostgres(t, pgtest.DSN(t)))
}

// TestParseCursorVersion: an integer version reads the rows of that
// version and later; a timestamp is refused.
func TestParseCursorVersion(t *testing.T) {
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
	for i, ver := range []int{5, 7, 7, 9} {
		if _, err := tab.DB().ExecContext(ctx, `INSERT INTO v VALUES (?, 'Firma', '1234567890', 1, ?)`, fmt.Sprintf("k%d", i), ver); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := vt.ParseCursor(ctx, "7")
	if err != nil {
		t.Fatal(err)
	}
	if got := changedKeys(t, vt, cur); !slices.Equal(got, []string{"k1", "k2", "k3"}) {
		t.Fatalf("from version 7 (cursor %q): %v", cur, got)
	}
	for _, bad := range []string{"2026-12-01T00:00:00Z", "7.5", "seven", "t|2026-12-01T00:00:00Z|k"} {
		if _, err := vt.ParseCursor(ctx, bad); err == nil || !strings.Contains(err.Error(), "integer") {
			t.Errorf("%q: %v, want an error asking for an integer", bad, err)
		}
	}
}
