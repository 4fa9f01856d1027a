package fileerp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/problem"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/erptest"
	"github.com/erpconnector/erpconnector/mapping"
)

func demoConfig(dir string) Config {
	return Config{
		Dir:           dir,
		KeyColumn:     erpgen.KeyColumn,
		Rules:         erpgen.Rules(),
		Flags:         []erp.PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.SyncONeColumn}, {Platform: mapping.PlatformCustomerAPI, Column: erpgen.SyncCustomerAPI}},
		DeletedColumn: erpgen.DeletedColumn,
		WriteBack:     []erp.PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.ONeIDColumn}, {Platform: mapping.PlatformCustomerAPI, Column: erpgen.CustomerAPIColumn}},
		Delimiter:     ";",
	}
}

func exportColumns() []string {
	cols := append([]string{erpgen.KeyColumn}, erpgen.Columns()...)
	return append(cols, erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn)
}

func putCSV(t *testing.T, dir string, seq *int, recs ...erpgen.Record) {
	t.Helper()
	*seq++
	rows := make([]map[string]string, len(recs))
	for i, r := range recs {
		rows[i] = r.Map()
	}
	if err := WriteExport(dir, fmt.Sprintf("export-%06d.csv", *seq), exportColumns(), rows, ';'); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceDropFolder(t *testing.T) {
	erptest.TestAdapter(t, func(t *testing.T) erptest.Harness {
		dir := t.TempDir()
		f, err := Open(context.Background(), demoConfig(dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		seq := 0
		return erptest.Harness{Adapter: f, Put: func(t *testing.T, _ time.Time, recs ...erpgen.Record) { putCSV(t, dir, &seq, recs...) }}
	})
}

func TestFilesMoveToProcessedOnlyAfterTheCursorPassesThem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	recs := erpgen.New(erpgen.Options{Seed: 1}).Records(6)
	for i := range recs {
		recs[i].SyncONe = true
	}
	putCSV(t, dir, &seq, recs[:3]...)
	putCSV(t, dir, &seq, recs[3:]...)
	// Half-written and foreign files are never read.
	for _, n := range []string{".export-000003.csv", "export-000004.csv.tmp", "export-000005.part", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, InboxDir, n), []byte("erp_key;name\nHALF;x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := f.Changes(ctx, "", 4)
	if err != nil || len(p1.Items) != 4 || !p1.More {
		t.Fatalf("page 1: %d items more=%v %v", len(p1.Items), p1.More, err)
	}
	inbox := func() []string {
		es, _ := os.ReadDir(filepath.Join(dir, InboxDir))
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := inbox(); len(got) != 6 {
		t.Fatalf("nothing may move before the cursor is passed on: %v", got)
	}
	// A retry with the old (empty) cursor re-reads the same rows.
	again, _ := f.Changes(ctx, "", 4)
	if again.Items[0].Key != p1.Items[0].Key {
		t.Fatal("re-reading from the same cursor gave different rows")
	}
	p2, err := f.Changes(ctx, p1.Cursor, 4)
	if err != nil || len(p2.Items) != 2 {
		t.Fatalf("page 2: %d items %v", len(p2.Items), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ProcessedDir, "export-000001.csv")); err != nil {
		t.Fatalf("first file not moved after its rows were acknowledged: %v", err)
	}
	p3, err := f.Changes(ctx, p2.Cursor, 4)
	if err != nil || len(p3.Items) != 0 || p3.More {
		t.Fatalf("page 3: %d items %v", len(p3.Items), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ProcessedDir, "export-000002.csv")); err != nil {
		t.Fatalf("second file not moved: %v", err)
	}
	for _, it := range append(p1.Items, p2.Items...) {
		if it.Key == "HALF" {
			t.Fatal("a half-written file was read")
		}
	}
}

func TestReopenRebuildsIndexFromFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	recs := erpgen.New(erpgen.Options{Seed: 2}).Records(3)
	putCSV(t, dir, &seq, recs...)
	if err := f.SetPlatformID(ctx, recs[0].Key, mapping.PlatformONe, "org:abc"); err != nil {
		t.Fatal(err)
	}
	in := erptest.Expected(recs[1])
	in.ERPKey, in.PlatformIDs.ONe = "", "org:new"
	key, err := f.Upsert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := g.Get(ctx, recs[0].Key)
	if err != nil || it.Customer.PlatformIDs.ONe != "org:abc" {
		t.Fatalf("write-back lost on reopen: %+v %v", it.Customer.PlatformIDs, err)
	}
	it, err = g.Get(ctx, key)
	if err != nil || it.Customer.Name != in.Name {
		t.Fatalf("upsert lost on reopen: %v", err)
	}
	// The outbox file is what the ERP imports.
	es, _ := os.ReadDir(filepath.Join(dir, OutboxDir))
	if len(es) != 2 {
		t.Fatalf("outbox has %d files", len(es))
	}
	b, _ := os.ReadFile(filepath.Join(dir, OutboxDir, es[1].Name()))
	var ch Change
	if err := json.Unmarshal(b, &ch); err != nil || ch.Op != "upsert" || ch.Row[erpgen.ONeIDColumn] != "org:new" || ch.Row["name"] != in.Name {
		t.Fatalf("outbox change %+v %v", ch, err)
	}
}

func TestJSONLinesExportAndBadRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"erp_key":"J1","customer_type":"C","name":"Agro J","tin":"5213000001","currency":"PLN","sync_one":true,"invoice_emails":["a@b.pl","c@d.pl"],"credit_limit":1500.5}`,
		`{"erp_key":"J2", broken`,
		`{"erp_key":"J3","customer_type":"I","name":"Jan Kowalski","sync_one":1,"email":"nope"}`,
		`{"erp_key":"J4","customer_type":"I","name":"Anna Nowak","sync_one":"tak","nested":{"x":1}}`,
		"{\"erp_key\":\"J5\",\"customer_type\":\"I\",\"name\":\"Zofia Woźniak\",\"sync_one\":true,\"city\":\"Krak\xf3w\"}",
		`{"erp_key":"J6","customer_type":"I","name":"Paweł Lis","sync_one":true}`,
	}
	if err := WriteFileAtomic(filepath.Join(dir, InboxDir, "x.jsonl"), []byte(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
	p, err := f.Changes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 6 {
		t.Fatalf("%d items", len(p.Items))
	}
	j1 := p.Items[0]
	if j1.Err != nil || j1.Customer.InvoiceEmail != "a@b.pl" || len(j1.Customer.AdditionalInvoiceEmails) != 1 || *j1.Customer.TradeCreditLimit != 1500.5 {
		t.Fatalf("J1: %+v %v", j1.Customer, j1.Err)
	}
	if p.Items[1].Err == nil || !strings.Contains(p.Items[1].Err.Error(), "line 2") {
		t.Fatalf("broken line: %v", p.Items[1].Err)
	}
	// A bad e-mail is a platform's business (the one that receives it):
	// the adapter's core check passes and the value comes through as is.
	var ve *mapping.ValidationError
	if j3 := p.Items[2]; j3.Err != nil || j3.Customer.Email != "nope" || !errors.As(mapping.Validate(j3.Customer), &ve) || !ve.Has("email") {
		t.Fatalf("J3: %+v %v", j3.Customer, j3.Err)
	}
	if p.Items[3].Err == nil || !strings.Contains(p.Items[3].Err.Error(), "nested") {
		t.Fatalf("J4: %v", p.Items[3].Err)
	}
	if p.Items[4].Key != "J5" || p.Items[4].Err == nil || !strings.Contains(p.Items[4].Err.Error(), "UTF-8") {
		t.Fatalf("J5: %v", p.Items[4].Err)
	}
	if p.Items[5].Err != nil || p.Items[5].Key != "J6" {
		t.Fatalf("the row after the bad ones: %+v", p.Items[5])
	}
}

func TestReadCSVHeaderDriven(t *testing.T) {
	in := "\xEF\xBB\xBFname;erp_key\n\"Agro; Sp. z o.o.\";K1\nonly-one-field\n;K3\n"
	var rows []Row
	if err := ReadRows(strings.NewReader(in), CSV, ';', func(r Row) { rows = append(rows, r) }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Values["erp_key"] != "K1" || rows[0].Values["name"] != "Agro; Sp. z o.o." ||
		rows[1].Err == nil || rows[2].Values["erp_key"] != "K3" {
		t.Fatalf("rows %+v", rows)
	}
	if err := ReadRows(strings.NewReader("a;a\n1;2\n"), CSV, ';', func(Row) {}); err == nil {
		t.Fatal("duplicate header accepted")
	}
}

// FuzzReadCSV: any bytes parse without panicking, every row either has
// values for exactly the header's columns or an error.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("erp_key;name\nK1;Agro\n"))
	f.Add([]byte("a;b\n\"x;\"\"y\";z\n\"unterminated\n"))
	f.Add([]byte("\xEF\xBB\xBFk\n\xff\xfe\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var header int
		err := ReadRows(bytes.NewReader(data), CSV, ';', func(r Row) {
			if r.Err == nil && header == 0 {
				header = len(r.Values)
			}
			if r.Err == nil && len(r.Values) != header {
				t.Fatalf("row with %d values, earlier rows had %d", len(r.Values), header)
			}
		})
		_ = err
	})
}

// FuzzReadJSONL: any bytes parse without panicking; each non-empty line is
// a row or an error, and rows go through the demo rules and validation.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"erp_key":"J1","name":"x","sync_one":true}` + "\n" + `{"bad"`))
	f.Add([]byte(`{"a":[1,"b",null,true]}` + "\n\n" + `[]`))
	f.Add([]byte(`{"a":{"b":1}}` + "\n" + `{"n":1e999}`))
	dir := f.TempDir()
	folder, err := Open(context.Background(), demoConfig(dir), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		rows := 0
		if err := ReadRows(bytes.NewReader(data), JSONLines, 0, func(r Row) {
			rows++
			_ = folder.rowItem("fuzz.jsonl", r)
		}); err != nil {
			t.Fatal(err)
		}
		if rows > lines {
			t.Fatalf("%d rows from %d non-empty lines", rows, lines)
		}
	})
}

func TestMinAgeHoldsBackFreshFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := demoConfig(dir)
	cfg.MinAge = time.Hour
	f, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	recs := erpgen.New(erpgen.Options{Seed: 3}).Records(2)
	recs[0].SyncONe, recs[1].SyncONe = true, true
	putCSV(t, dir, &seq, recs...)
	if p, err := f.Changes(ctx, "", 10); err != nil || len(p.Items) != 0 {
		t.Fatalf("a file younger than MinAge was read: %d items, %v", len(p.Items), err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, InboxDir, "export-000001.csv"), old, old); err != nil {
		t.Fatal(err)
	}
	if p, err := f.Changes(ctx, "", 10); err != nil || len(p.Items) != 2 {
		t.Fatalf("an old enough file was not read: %d items, %v", len(p.Items), err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Delimiter: ";;", Rules: []mapping.FieldRule{{ERP: "x", Field: "nope"}}}.Validate()
	// Each problem is typed, with its key inside the section.
	got := map[string]string{}
	for _, p := range problem.List(err) {
		got[p.Path] = p.Message
	}
	for path, want := range map[string]string{"dir": "is required", "key_column": "is required", "flags": "flag column",
		"delimiter": "one character", "rules[0]": `unknown field "nope"`} {
		if !strings.Contains(got[path], want) {
			t.Errorf("problem at %s is %q, want %q (all: %v)", path, got[path], want, err)
		}
	}
}

// TestExpressionColumnsAreReadAndNotWritten: an expression rule reads its
// columns from the export; the upsert change written back leaves them out
// (a computed field cannot be reversed) and carries the plain columns.
func TestExpressionColumnsAreReadAndNotWritten(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Dir: dir, KeyColumn: "id", Delimiter: ";",
		Rules: []mapping.FieldRule{
			{Expr: `first_name + " " + last_name`, Field: "name"},
			{Expr: `kind == "F" ? "individual" : "company"`, Field: "type"},
			{ERP: "city", Field: "billing.city"},
		},
		Flags: []erp.PlatformColumn{{Platform: mapping.PlatformONe, Column: "one"}}}
	f, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]string{"id": "P1", "first_name": "Jan", "last_name": "Kowalski", "kind": "F", "city": "Kielce", "one": "1"}
	if err := WriteExport(dir, "export-000001.csv", []string{"id", "first_name", "last_name", "kind", "city", "one"}, []map[string]string{row}, ';'); err != nil {
		t.Fatal(err)
	}
	it, err := f.Get(ctx, "P1")
	if err != nil || it.Err != nil || it.Customer.Name != "Jan Kowalski" || it.Customer.Type != mapping.Individual {
		t.Fatalf("get: %+v %v %v", it.Customer, it.Err, err)
	}
	c := it.Customer
	c.Name, c.Billing.City = "Renamed", "Radom"
	if _, err := f.Upsert(ctx, c); err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(filepath.Join(dir, OutboxDir))
	if len(es) != 1 {
		t.Fatalf("outbox has %d files", len(es))
	}
	b, _ := os.ReadFile(filepath.Join(dir, OutboxDir, es[0].Name()))
	var ch Change
	if err := json.Unmarshal(b, &ch); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"first_name", "last_name", "kind"} {
		if v, ok := ch.Row[col]; ok {
			t.Errorf("the change writes expression column %s = %q", col, v)
		}
	}
	if ch.Row["city"] != "Radom" {
		t.Errorf("change row %v lacks the city", ch.Row)
	}
}
