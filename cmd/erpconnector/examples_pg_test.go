package main

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/oneapi"
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

// TestIntegerKeysExampleRunsEndToEnd: configs/integer-keys.example.yaml on
// a table numbered by PostgreSQL (a bigint identity key) with first and
// last name columns and prefixed tax numbers: the names and tax numbers
// are computed by the example's expressions, a customer registered in the
// ONe storefront is inserted with a number the database gives, and every
// platform id is written back.
func TestIntegerKeysExampleRunsEndToEnd(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, schema := pgtest.Schema(t, dsn, "intkeys")
	ctx := context.Background()
	table := schema + ".customer"
	for _, s := range []string{
		`CREATE TABLE ` + table + ` (
			customer_number BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
			changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
			company_name TEXT, first_name TEXT, last_name TEXT, tax_number TEXT,
			street TEXT, zip TEXT, town TEXT, country TEXT, phone TEXT, email TEXT,
			sync_webshop BOOLEAN NOT NULL DEFAULT FALSE, sync_farm_portal BOOLEAN NOT NULL DEFAULT FALSE,
			webshop_id TEXT, farm_portal_id TEXT, removed BOOLEAN NOT NULL DEFAULT FALSE)`,
		`INSERT INTO ` + table + ` (company_name, first_name, last_name, tax_number, street, zip, town, country, phone, email,
			sync_webshop, sync_farm_portal, changed_at) VALUES
		 ('Młyn Zbożowy Sp. z o.o.', 'Anna', 'Kowalska', 'PL5260250995', 'ul. Prosta 1', '00-001', 'Warszawa', 'PL',
			'22 123 45 67', 'Biuro@Mlyn.example', TRUE, FALSE, now() - interval '1 minute'),
		 (NULL, 'Jan', 'Nowak', NULL, 'ul. Polna 7', '30-001', 'Kraków', NULL, '601 200 300', 'jan.nowak@example.com',
			TRUE, FALSE, now() - interval '1 minute'),
		 ('Hillside Trading Ltd', 'Tom', 'Evans', NULL, 'Hillside Lane', 'SA62 6AA', 'Haverfordwest', 'GB',
			'01437 770000', 'tom@hillside.example', FALSE, TRUE, now() - interval '1 minute')`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	dir := t.TempDir()
	srv := startExampleServers(t)
	exampleEnv(t, dir, srv)
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_BASE_URL", srv.capiURL)
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_USERNAME", exampleCAPIUser)
	t.Setenv("ERPCONNECTOR_CUSTOMER_API_PASSWORD_FILE", secretFile(t, dir, "capi-password", exampleCAPIPass))
	t.Setenv("ERPCONNECTOR_ERP_SQL_DSN_FILE", secretFile(t, dir, "erp-dsn", dsn))
	t.Setenv("ERPCONNECTOR_ERP_SQL_TABLE", table)
	t.Setenv("ERPCONNECTOR_ERP_SQL_SETTLE_TIME", "0s")
	t.Setenv("ONE_TENANT", exampleTenant)   // the file's ${ONE_TENANT:-your-tenant}
	t.Setenv("ERPCONNECTOR_ONE_TENANT", "") // restored at the end
	if err := os.Unsetenv("ERPCONNECTOR_ONE_TENANT"); err != nil {
		t.Fatal(err)
	}

	out := runExample(t, "integer-keys.example.yaml", "sync", "--once")

	clients := map[string]string{} // external id → name
	for _, c := range srv.one.Clients(exampleTenant) {
		code := ""
		if c.TinCode != nil {
			code = string(*c.TinCode)
		}
		clients[c.ExternalID] = c.Name + "|" + c.Tin + "|" + code
	}
	if got := clients["1"]; got != "Młyn Zbożowy Sp. z o.o.|5260250995|PL" {
		t.Errorf("customer 1 on ONe: %q\n%s", got, out)
	}
	if got := clients["2"]; !strings.HasPrefix(got, "Jan Nowak|") {
		t.Errorf("customer 2 on ONe: %q\n%s", got, out)
	}

	// A customer registers in the storefront: the next pass inserts it and
	// the database numbers it.
	if _, err := srv.one.StorefrontCreate(exampleTenant, oneapi.ContextApplication, oneapi.ClientWrite{
		CustomerType: oneapi.CustomerIndividual, Name: "Ewa Zielińska", Phone: "+48 601 200 302",
		Address: &oneapi.Address{City: "Łódź", Country: "Polska", ExternalID: "web-1", Name: "Ewa Zielińska",
			Phone: "+48 601 200 302", Street: "ul. Nowa 3", ZipCode: "90-001"},
		Admin: &oneapi.Admin{Email: "ewa@example.com", Name: "Ewa Zielińska"},
	}); err != nil {
		t.Fatal(err)
	}
	out = runExample(t, "integer-keys.example.yaml", "sync", "--once")

	type row struct {
		number              int64
		town                string
		one, farm           sql.NullString
		webshop, farmPortal bool
	}
	var rows []row
	rs, err := db.QueryContext(ctx, `SELECT customer_number, COALESCE(town, ''), webshop_id, farm_portal_id, sync_webshop, sync_farm_portal FROM `+table+` ORDER BY customer_number`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.number, &r.town, &r.one, &r.farm, &r.webshop, &r.farmPortal); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[3].number != 4 || rows[3].town != "Łódź" || !rows[3].one.Valid {
		t.Fatalf("rows %+v: want the registration inserted as customer 4 with its ONe id\n%s", rows, out)
	}
	for _, r := range rows[:2] {
		if !r.one.Valid || r.farm.Valid {
			t.Errorf("customer %d: ids %v %v, want an ONe id only", r.number, r.one, r.farm)
		}
	}
	if !rows[2].farm.Valid || rows[2].one.Valid {
		t.Errorf("customer 3: ids %v %v, want a Customer API id only\n%s", rows[2].one, rows[2].farm, out)
	}
	if c := srv.one.Faults().Counts()["createClient"].Total; c != 2 {
		t.Errorf("%d ONe creates, want 2 (the registration is not sent back)", c)
	}
}
