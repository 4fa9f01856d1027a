package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/pgtest"
)

// TestProductionExampleReadsPostgres opens the production example's ERP
// (its DSN from dsn_file) against a real PostgreSQL table with the example's
// columns, and reads a customer through the example's rules.
func TestProductionExampleReadsPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, schema := pgtest.Schema(t, dsn, "cfgtest")
	stmts := []string{
		`CREATE TABLE ` + schema + `.customers (
			customer_no TEXT PRIMARY KEY, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
			send_to_one BOOLEAN NOT NULL DEFAULT FALSE, send_to_customer_api BOOLEAN NOT NULL DEFAULT FALSE,
			one_client_id TEXT, customer_api_org_id TEXT,
			kind TEXT, full_name TEXT, short_name TEXT, nip TEXT, nip_country TEXT, regon TEXT, vat_ue TEXT, street TEXT,
			postcode TEXT, city TEXT, country_code TEXT, phone TEXT, email TEXT, invoice_email TEXT, currency TEXT, status TEXT,
			salesman TEXT, warehouse TEXT, payment_term TEXT, credit_limit NUMERIC(14,2), bank_account TEXT, contact_name TEXT,
			contact_email TEXT, contact_phone TEXT, cph_number TEXT, red_tractor_expiry TEXT, loyalty_tier TEXT)`,
		`INSERT INTO ` + schema + `.customers (customer_no, send_to_one, kind, full_name, nip, street, postcode, city, phone, email,
			currency, status, credit_limit, red_tractor_expiry)
		 VALUES ('K-1', TRUE, 'f', ' Młyn Sp. z o.o. ', '5260250274', 'ul. Prosta 1', '00-001', 'Warszawa', '22 123 45 67',
			'Biuro@Mlyn.example', '', '1', 1500.50, '31.12.2027')`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}

	path := filepath.Join(configsDir, "production.example.yaml")
	env, _ := secretEnv(t, path)
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "ERPCONNECTOR_ERP_SQL_DSN_FILE="+dsnFile, "ERPCONNECTOR_ERP_SQL_TABLE="+schema+".customers",
		"ERPCONNECTOR_ERP_SQL_INBOUND_TABLE="+schema+".customers", "ERPCONNECTOR_ERP_SQL_SETTLE_TIME=0s")
	f, err := LoadValid(path, env)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.OpenERP(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.(erp.Closer).Close()
	p, err := a.Changes(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 {
		t.Fatalf("changes = %+v", p)
	}
	it := p.Items[0]
	c := it.Customer
	if it.Key != "K-1" || c.Name != "Młyn Sp. z o.o." || string(c.Type) != "company" || c.TINCode != "PL" || c.Currency != "PLN" ||
		c.Email != "biuro@mlyn.example" || c.ClientStatus != "CLIENT" || !strings.HasPrefix(c.Phone, "+48") ||
		c.Farm.CertificateExpiry != "2027-12-31" || c.TradeCreditLimit == nil || *c.TradeCreditLimit != 1500.5 {
		t.Fatalf("customer mapped through the example's rules = %+v (err %v)", c, it.Err)
	}
}
