package config

import (
	"slices"
	"testing"

	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/problem"
)

// TestSQLInboundKeyColumnProblems: the sql adapter's inbound key column
// problems are reported under erp.sql.inbound_key_column.
func TestSQLInboundKeyColumnProblems(t *testing.T) {
	for _, inbound := range []string{"web customers", ""} {
		cfg := sqlerp.DemoConfig("sqlite", "erp.db", sqlerp.DemoTable)
		cfg.InboundKeyColumn = "web no"
		if inbound == "" {
			cfg.InboundKeyColumn = "web_no"
		}
		cfg.InboundTable = inbound
		ps := problem.Under("erp.sql", cfg.Validate())
		var got []string
		for _, p := range ps {
			got = append(got, p.Path)
		}
		if !slices.Contains(got, "erp.sql.inbound_key_column") {
			t.Errorf("inbound_table %q: problems %v", inbound, ps)
		}
	}
}
