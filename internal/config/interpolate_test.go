package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterpolation: ${NAME} and ${NAME:-default} in values of every type
// (text, durations, numbers, lists, the rules' entries) come from the
// environment Load is given; an environment override is interpolated too.
func TestInterpolation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	body := `state_path: ${STATE_DIR:-/var/lib/x}/state.db
one:
  base_url: https://${ONE_HOST}/api
  tenant: ${TENANT}
  api_key: ${ONE_KEY}
  timeout: ${ONE_TIMEOUT:-45s}
  contexts: ["${CTX:-APPLICATION}", BACKOFFICE]
  upstream:
    rate: ${RATE:-2.5}
erp:
  adapter: sql
  sql:
    driver: sqlite
    dsn: erp.db
    table: customers
    key_column: erp_key
    rules:
      - {erp: "${NAME_COLUMN}", field: name}
      - {erp: literal, field: email, default: "$${NOT_A_REFERENCE}", transform: [default]}
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"ONE_HOST=one.example.com", "TENANT=acme", "ONE_KEY=k-123", "NAME_COLUMN=full_name",
		"ERPCONNECTOR_ONE_TENANT=${TENANT}-eu", "ONE_TIMEOUT="}
	f, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	o := f.ONe
	if o.BaseURL != "https://one.example.com/api" || o.Tenant != "acme-eu" || o.APIKey != "k-123" || o.Timeout.String() != "45s" ||
		o.Upstream.Rate != 2.5 || strings.Join(o.Contexts, ",") != "APPLICATION,BACKOFFICE" {
		t.Fatalf("one = %+v", o)
	}
	if f.StatePath != "/var/lib/x/state.db" {
		t.Fatalf("state_path = %q", f.StatePath)
	}
	rules := f.ERP.SQL.Rules
	if rules[0].ERP != "full_name" || rules[1].Default != "${NOT_A_REFERENCE}" {
		t.Fatalf("rules = %+v", rules)
	}
}

// TestInterpolationProblems: an unset variable without a default and a ${
// that is no reference are problems at their paths, reported with the
// file's other problems in one pass, and never quote the values.
func TestInterpolationProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	body := `state_path: state.db
one:
  base_url: ftp://example.com
  tenant: "${TENANT"
  api_key: ${ONE_KEY}
erp:
  adapter: sql
  sql:
    driver: sqlite
    dsn: erp.db
    table: customers
    key_column: erp_key
    rules:
      - {erp: "${COLUMN}", field: name}
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, []string{"UNRELATED=secret-value"})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"one.api_key: refers to the environment variable ONE_KEY, which is not set",
		"one.tenant: holds a ${ that is not a reference",
		"erp.sql.rules[0].erp: refers to the environment variable COLUMN, which is not set",
		"one.base_url: must be an http(s) URL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secret-value") {
		t.Fatal("a variable's value was printed")
	}
}

func TestNearestEnv(t *testing.T) {
	for name, want := range map[string]string{
		"ERPCONNECTOR_ONE_API_KYE":          "ERPCONNECTOR_ONE_API_KEY",
		"ERPCONNECTOR_SCHEDULE_FEED":        "ERPCONNECTOR_SCHEDULES_FEED",
		"ERPCONNECTOR_CUSTOMERAPI_PASSWORD": "ERPCONNECTOR_CUSTOMER_API_PASSWORD",
		"ERPCONNECTOR_TEST_POSTGRES_DSN":    "",
	} {
		if got := NearestEnv(name); got != want {
			t.Errorf("NearestEnv(%s) = %q, want %q", name, got, want)
		}
	}
}
