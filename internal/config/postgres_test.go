package config

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
)

// postgresDSN returns the test database (.ci/services.sh starts one and
// exports it); without one the test is skipped, unless
// ERPCONNECTOR_REQUIRE_POSTGRES=1 makes that a failure.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("ERPCONNECTOR_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("ERPCONNECTOR_REQUIRE_POSTGRES") == "1" {
			t.Fatal("ERPCONNECTOR_REQUIRE_POSTGRES=1 but ERPCONNECTOR_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("PostgreSQL tests skipped: set ERPCONNECTOR_TEST_POSTGRES_DSN (e.g. by sourcing .ci/services.sh) to run them")
	}
	return dsn
}

// TestProductionExampleReadsPostgres opens the production example's ERP
// (its DSN from dsn_file) against a real PostgreSQL table with the example's
// columns, and reads a customer through the example's rules.
func TestProductionExampleReadsPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("cfgtest_%d", time.Now().UnixNano())
	stmts := []string{
		"CREATE SCHEMA " + schema,
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
	t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })

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
		c.Email != "biuro@mlyn.example" || c.ClientStatus != "ACTIVE" || !strings.HasPrefix(c.Phone, "+48") ||
		c.Farm.CertificateExpiry != "2027-12-31" || c.TradeCreditLimit == nil || *c.TradeCreditLimit != 1500.5 {
		t.Fatalf("customer mapped through the example's rules = %+v (err %v)", c, it.Err)
	}
}
