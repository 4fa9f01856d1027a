package erpgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/erpconnector/erpconnector/mapping"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenERPRowsToCanonical pins the ERP → canonical direction: demo
// rows (Polish companies and individuals, UK farms) through the demo field
// rules, and the canonical customers back to ERP column values.
func TestGoldenERPRowsToCanonical(t *testing.T) {
	rules := mapping.MustCompileRules(Rules())
	type pair struct {
		Row       map[string]string `json:"row"`
		Canonical mapping.Customer  `json:"canonical"`
	}
	var out []pair
	for _, r := range New(Options{Seed: 2026}).Records(8) {
		c, errs := rules.Apply(r.Values)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", r.Key, errs)
		}
		c.ERPKey = r.Key
		c.Flags = mapping.Flags{ONe: r.SyncONe, CustomerAPI: r.SyncCustomerAPI}
		out = append(out, pair{Row: r.Map(), Canonical: c})
		// And back: the ERP values that an upsert would write.
		back := rules.Values(c)
		again, _ := rules.Apply(back)
		again.ERPKey, again.Flags = c.ERPKey, c.Flags
		if a, b := mustJSON(t, again), mustJSON(t, c); !bytes.Equal(a, b) {
			t.Fatalf("%s: canonical → ERP → canonical changed the record:\n%s\n%s", r.Key, a, b)
		}
	}
	got, _ := json.MarshalIndent(out, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", "erp_rows.canonical.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./erp/erpgen -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ERP rows map differently from the golden file %s:\n%s", path, got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
