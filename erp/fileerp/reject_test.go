package fileerp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
)

// A file that cannot be an export (binary, or a CSV without the key
// column) moves to rejected/ with a reason beside it and is reported once
// as an item without a key; the files after it are read as usual.
func TestUnreadableFilesMoveToRejected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dir, InboxDir)
	bin := append([]byte("PK\x03\x04"), make([]byte, 64)...)
	if err := WriteFileAtomic(filepath.Join(inbox, "a-export.csv"), bin); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(inbox, "b-export.csv"), []byte("customer;name\n1;x\n")); err != nil {
		t.Fatal(err)
	}
	seq := 10
	putCSV(t, dir, &seq, erpgen.New(erpgen.Options{Seed: 1}).Records(2)...)
	p, err := f.Changes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 4 {
		t.Fatalf("%d items, want 2 rejected files and 2 rows", len(p.Items))
	}
	for i, want := range []string{"binary", `no column "` + erpgen.KeyColumn + `"`} {
		it := p.Items[i]
		if it.Key != "" || it.Err == nil || !strings.Contains(it.Err.Error(), want) || it.Source == "" || strings.Contains(it.Source, ":") {
			t.Fatalf("item %d: %+v", i, it)
		}
		moved := filepath.Join(dir, RejectedDir, it.Source)
		if _, err := os.Stat(moved); err != nil {
			t.Fatalf("%s not moved to rejected/: %v", it.Source, err)
		}
		reason, err := os.ReadFile(moved + ".reason.txt")
		if err != nil || !strings.Contains(string(reason), want) {
			t.Fatalf("reason of %s: %q %v", it.Source, reason, err)
		}
		if _, err := os.Stat(filepath.Join(inbox, it.Source)); !os.IsNotExist(err) {
			t.Fatalf("%s still in the inbox: %v", it.Source, err)
		}
	}
	if p.Items[2].Err != nil || p.Items[3].Err != nil || p.Items[2].Key == "" {
		t.Fatalf("rows after the rejected files: %+v", p.Items[2:])
	}
	// A second file of the same name rejected later does not overwrite the first.
	if err := WriteFileAtomic(filepath.Join(inbox, "a-export.csv"), bin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Changes(ctx, p.Cursor, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, RejectedDir, "a-export.csv.1")); err != nil {
		t.Fatalf("second rejected file: %v", err)
	}
}

// Rows that cannot be read, or have no key, come back as items without a
// key, naming their file and line and carrying their text.
func TestUnreadableRowsCarrySourceAndText(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := Open(ctx, demoConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Join(exportColumns(), ";")
	good := erpgen.New(erpgen.Options{Seed: 2}).Records(1)[0].Map()
	var vals []string
	for _, c := range exportColumns() {
		vals = append(vals, good[c])
	}
	row := strings.Join(vals, ";")
	keyless := ";" + strings.Join(vals[1:], ";")
	body := cols + "\n" + "too;few;fields\n" + keyless + "\n" + row + "\n"
	if err := WriteFileAtomic(filepath.Join(dir, InboxDir, "x.csv"), []byte(body)); err != nil {
		t.Fatal(err)
	}
	long := `{"erp_key": ` + strings.Repeat("9", 3*erp.MaxRaw)
	if err := WriteFileAtomic(filepath.Join(dir, InboxDir, "y.jsonl"), []byte(long+"\n")); err != nil {
		t.Fatal(err)
	}
	p, err := f.Changes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 4 {
		t.Fatalf("%d items: %+v", len(p.Items), p.Items)
	}
	want := []struct{ source, raw, err string }{
		{"x.csv:2", "too;few;fields", "fields"},
		{"x.csv:3", keyless, "key column"},
	}
	for i, w := range want {
		it := p.Items[i]
		if it.Key != "" || it.Source != w.source || it.Raw != w.raw || it.Err == nil || !strings.Contains(it.Err.Error(), w.err) {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
	if p.Items[2].Key != good[erpgen.KeyColumn] || p.Items[2].Err != nil {
		t.Fatalf("good row: %+v", p.Items[2])
	}
	j := p.Items[3]
	if j.Source != "y.jsonl:1" || j.Err == nil || len(j.Raw) > erp.MaxRaw+len("…") || !strings.HasPrefix(j.Raw, `{"erp_key": 999`) {
		t.Fatalf("long broken JSON line: source %q raw %d bytes err %v", j.Source, len(j.Raw), j.Err)
	}
}

// A quote that never closes swallows the rows after it in a CSV reader;
// here only its own line is rejected and the rows after it are read, even
// after a second such quote.
func TestUnclosedQuoteLosesNoRows(t *testing.T) {
	body := "k;name;x\n1;a;b\n2;\"broken;c\n3;ok;d\n4;\"again;e\n5;ok;f\n6;\"multi\nline\";g\n"
	var got []string
	if err := ReadRows(strings.NewReader(body), CSV, ';', func(r Row) {
		if r.Err != nil {
			got = append(got, fmt.Sprintf("%d:err", r.Line))
			return
		}
		got = append(got, fmt.Sprintf("%d:%s=%s", r.Line, r.Values["k"], r.Values["name"]))
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"2:1=a", "3:err", "4:3=ok", "5:err", "6:5=ok", "7:6=multi\nline"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
}
