package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/pgtest"
)

// TestProductionExampleRunsEndToEnd: configs/production.example.yaml on a
// PostgreSQL table of its own layout (crm.customers: a text customer
// number, Polish companies and people for ONe, a UK farm for the Customer
// API) creates the ONe clients and the Customer API organisation, and
// writes each platform id back to its column.
func TestProductionExampleRunsEndToEnd(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, schema := pgtest.Schema(t, dsn, "example")
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE ` + schema + `.customers (
			customer_no TEXT PRIMARY KEY, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
			send_to_one BOOLEAN NOT NULL DEFAULT FALSE, send_to_customer_api BOOLEAN NOT NULL DEFAULT FALSE,
			one_client_id TEXT, customer_api_org_id TEXT,
			kind TEXT, full_name TEXT, short_name TEXT, nip TEXT, nip_country TEXT, regon TEXT, vat_ue TEXT, street TEXT,
			postcode TEXT, city TEXT, country_code TEXT, phone TEXT, email TEXT, invoice_email TEXT, currency TEXT, status TEXT,
			salesman TEXT, warehouse TEXT, payment_term TEXT, credit_limit NUMERIC(14,2), bank_account TEXT, contact_name TEXT,
			contact_email TEXT, contact_phone TEXT, cph_number TEXT, red_tractor_expiry TEXT, loyalty_tier TEXT)`,
		`INSERT INTO ` + schema + `.customers (customer_no, send_to_one, send_to_customer_api, kind, full_name, nip, nip_country,
			street, postcode, city, country_code, phone, email, currency, status, credit_limit, contact_name, contact_email,
			contact_phone, cph_number, red_tractor_expiry, loyalty_tier, updated_at)
		 VALUES
		 ('K-1', TRUE, FALSE, 'F', ' Młyn Sp. z o.o. ', '5260250274', 'PL', 'ul. Prosta 1', '00-001', 'Warszawa', 'PL',
			'22 123 45 67', 'Biuro@Mlyn.example', 'PLN', '1', 1500.50, 'Anna Kowalska', 'anna@mlyn.example', '601 200 300',
			NULL, NULL, 'gold', now() - interval '1 minute'),
		 ('K-2', TRUE, FALSE, 'O', 'Jan Nowak', NULL, NULL, 'ul. Polna 7', '30-001', 'Kraków', 'PL',
			'+48 601 200 301', 'jan.nowak@example.com', 'PLN', '0', NULL, 'Jan Nowak', 'jan.nowak@example.com', NULL,
			NULL, NULL, NULL, now() - interval '1 minute'),
		 ('K-3', FALSE, TRUE, 'F', 'Hillside Farm Ltd', '01234567', 'GB', 'Hillside Lane', 'SA62 6AA', 'Haverfordwest', 'GB',
			'+44 1437 770000', 'office@hillside.example', 'GBP', '1', NULL, 'Tom Evans', 'tom@hillside.example', '07400 123456',
			'12/345/6789', '31.12.2027', NULL, now() - interval '1 minute')`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	dir := t.TempDir()
	srv := startExampleServers(t)
	exampleEnv(t, dir, srv)
	t.Setenv("ERPCONNECTOR_ADMIN_TOKEN_FILE", secretFile(t, dir, "admin-token", "an-admin-token-for-the-example"))
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_BASE_URL", srv.capiURL)
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_USERNAME", exampleCAPIUser)
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_PASSWORD_FILE", secretFile(t, dir, "capi-password", exampleCAPIPass))
	t.Setenv("ERPCONNECTOR_ERP_SQL_DSN_FILE", secretFile(t, dir, "erp-dsn", dsn))
	t.Setenv("ERPCONNECTOR_ERP_SQL_TABLE", schema+".customers")
	t.Setenv("ERPCONNECTOR_ERP_SQL_INBOUND_TABLE", schema+".customers")
	t.Setenv("ERPCONNECTOR_ERP_SQL_SETTLE_TIME", "0s")

	out := runExample(t, "production.example.yaml", "sync", "--once")
	for _, secret := range []string{exampleONeKey, exampleCAPIPass} {
		if strings.Contains(out, secret) {
			t.Fatal("a secret appears in the output")
		}
	}

	ids := map[string][2]sql.NullString{}
	rows, err := db.QueryContext(ctx, `SELECT customer_no, one_client_id, customer_api_org_id FROM `+schema+`.customers`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var one, capi sql.NullString
		if err := rows.Scan(&key, &one, &capi); err != nil {
			t.Fatal(err)
		}
		ids[key] = [2]sql.NullString{one, capi}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, c := range srv.one.Clients(exampleTenant) {
		if c.ExternalID != "" {
			byID[c.ID] = c.ExternalID
		}
	}
	for _, key := range []string{"K-1", "K-2"} {
		if id := ids[key][0]; !id.Valid || byID[id.String] != key {
			t.Errorf("%s: one_client_id %v is not the ONe client of that customer\n%s", key, id, out)
		}
		if ids[key][1].Valid {
			t.Errorf("%s: flagged for ONe only, but has a Customer API id", key)
		}
	}
	orgID := ids["K-3"][1]
	if !orgID.Valid || ids["K-3"][0].Valid {
		t.Fatalf("K-3: ids %v, want a Customer API organisation only\n%s", ids["K-3"], out)
	}
	cl, err := customerapi.New(customerapi.Options{BaseURL: srv.capiURL, Credentials: customerapi.Credentials{Username: exampleCAPIUser, Password: exampleCAPIPass}})
	if err != nil {
		t.Fatal(err)
	}
	org, err := cl.GetOrganisation(ctx, orgID.String)
	if err != nil {
		t.Fatal(err)
	}
	if org.Name != "Hillside Farm Ltd" {
		t.Fatalf("organisation %+v", org)
	}
	for _, c := range srv.one.Clients(exampleTenant) {
		if c.ExternalID == "K-1" && c.Phone != "+48221234567" {
			t.Errorf("K-1's phone on ONe is %q, want the national number in E.164", c.Phone)
		}
	}

	// A second pass finds nothing to do on either platform.
	runExample(t, "production.example.yaml", "sync", "--once")
	one, capi := srv.one.Faults().Counts(), srv.capi.Faults().Counts()
	if c, u := one["createClient"].Total, one["updateClient"].Total; c != 2 || u != 0 {
		t.Errorf("ONe: %d creates and %d updates, want 2 and none", c, u)
	}
	if c, u := capi["createOrganisation"].Total, capi["updateOrganisation"].Total; c != 1 || u != 0 {
		t.Errorf("Customer API: %d creates and %d updates, want 1 and none", c, u)
	}
}
