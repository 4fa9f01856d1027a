package connector_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/fileerp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// dropFolder opens a drop-folder ERP shaped like the demo table.
func dropFolder(t *testing.T) (*fileerp.Folder, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := fileerp.Open(context.Background(), fileerp.Config{
		Dir: dir, KeyColumn: erpgen.KeyColumn, Rules: erpgen.Rules(), Delimiter: ";", DeletedColumn: erpgen.DeletedColumn,
		Flags: []erp.PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.SyncONeColumn},
			{Platform: mapping.PlatformCustomerAPI, Column: erpgen.SyncCustomerAPI}},
		WriteBack: []erp.PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.ONeIDColumn},
			{Platform: mapping.PlatformCustomerAPI, Column: erpgen.CustomerAPIColumn}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

// exportCSV renders records as a drop-folder export, one line per record.
func exportCSV(t *testing.T, recs []erpgen.Record) []string {
	t.Helper()
	cols := append(append([]string{erpgen.KeyColumn}, erpgen.Columns()...), erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn)
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Comma = ';'
	_ = cw.Write(cols)
	for _, r := range recs {
		m := r.Map()
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = m[c]
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// counterValue reads one series of a counter (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// A drop-folder export with broken rows (too few fields, a quote that
// never closes, a broken JSON line), a row without a key, and files that
// are not exports at all (binary, no key column): the good rows reach both platforms, each
// unreadable record is one dead letter naming its file and line with its
// text, the unreadable file moves to rejected/, and reading again records
// nothing twice. A replay leaves them (there is nothing to deliver).
func TestDropFolderRejectionsAreDeadLetters(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI}, noStart: true})
	f, dir := dropFolder(t)
	w.erpOverride = f
	w.start()

	recs := erpgen.New(erpgen.Options{Seed: 21}).Records(8)
	uniqueOnPlatform(recs)
	lines := exportCSV(t, recs)
	keyless := ";" + strings.SplitN(lines[4], ";", 2)[1] // record 4 without its key
	unclosed := `X-9;"Never Closed Ltd;C`                // swallows the rows after it in a plain CSV reader
	body := slices.Concat(lines[:4], []string{"too;few", keyless, unclosed}, lines[5:8])
	jsonRec, err := json.Marshal(recs[7].Map())
	if err != nil {
		t.Fatal(err)
	}
	brokenJSON := `{"erp_key": "J-1", "name":`
	files := map[string][]byte{
		"customers.csv": []byte(strings.Join(body, "\n") + "\n"),
		"a-logo.csv":    append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...),
		"b-nokey.csv":   []byte("customer;name\n1;Somebody\n"),
		"c-more.jsonl":  []byte(string(jsonRec) + "\n" + brokenJSON + "\n"),
	}
	for name, b := range files {
		if err := fileerp.WriteFileAtomic(filepath.Join(dir, fileerp.InboxDir, name), b); err != nil {
			t.Fatal(err)
		}
	}
	w.sync()

	got := map[string]int{}
	for _, r := range append(slices.Clone(recs[:3]), recs[4:]...) {
		for _, h := range harnesses {
			if h.wants(r) && !r.Deleted {
				got[h.name]++
			}
		}
	}
	for _, h := range harnesses {
		if n := h.count(w); n != got[h.name] {
			t.Fatalf("%s holds %d records, want %d\n%s", h.name, n, got[h.name], w.logLines())
		}
	}
	want := map[string]string{
		"erp:reject:customers.csv:5": "too;few",
		"erp:reject:customers.csv:6": keyless,
		"erp:reject:customers.csv:7": unclosed,
		"erp:reject:c-more.jsonl:2":  brokenJSON,
		"erp:reject:a-logo.csv":      "",
		"erp:reject:b-nokey.csv":     "",
	}
	check := func() {
		t.Helper()
		dead, _, err := w.conn.Store().DeadLetters(ctx, queue.DeadFilter{Type: "erp.reject"})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != len(want) {
			t.Fatalf("%d rejected records, want %d: %+v", len(dead), len(want), dead)
		}
		for _, d := range dead {
			raw, ok := want[d.Key]
			var p struct{ Source, Raw, Reason string }
			if !ok || json.Unmarshal(d.Payload, &p) != nil || p.Raw != raw || p.Reason == "" || d.LastError != p.Reason ||
				!strings.HasSuffix(d.Key, p.Source) {
				t.Fatalf("dead letter %s: %s", d.Key, d.Payload)
			}
		}
		if n := counterValue(t, w.reg, "erpconnector_erp_rejected_total", map[string]string{"kind": "row"}); n != 4 {
			t.Fatalf("rejected rows counted %v, want 4", n)
		}
		if n := counterValue(t, w.reg, "erpconnector_erp_rejected_total", map[string]string{"kind": "file"}); n != 2 {
			t.Fatalf("rejected files counted %v, want 2", n)
		}
	}
	check()
	for _, f := range []string{"a-logo.csv", "b-nokey.csv"} {
		if _, err := os.Stat(filepath.Join(dir, fileerp.RejectedDir, f+".reason.txt")); err != nil {
			t.Fatalf("no reason beside the rejected file: %v", err)
		}
	}
	w.sync()
	check()
	res, err := w.conn.Store().Replay(ctx, queue.DeadFilter{Type: "erp.reject"})
	if err != nil || res.Rejected != len(want) || res.Replayed != 0 {
		t.Fatalf("replay %+v %v", res, err)
	}
	w.idle()
	check()
}
