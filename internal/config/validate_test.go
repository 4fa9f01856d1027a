package config

import (
	"slices"
	"strings"
	"testing"
)

// TestValuesThatMeanNothingAreRefused: NaN and infinite rates, negative
// rates, bursts, timeouts, page sizes, lease, breaker and hold-back
// durations are refused, each with its key path, all in one pass, whether
// they come from the file or from the environment. A zero, like a key left
// out, means the default.
func TestValuesThatMeanNothingAreRefused(t *testing.T) {
	const cfg = `
state_path: state.db
one:
  base_url: https://one.example.com
  tenant: acme
  api_key: k
  timeout: -5s
  page_size: -1
  upstream: {rate: .nan, burst: -2, breaker_open: -1s}
customer_api:
  base_url: https://capi.example.com
  api_token: t
  timeout: -1ms
  page_size: -100
  upstream: {rate: .inf, breaker_open: -30s}
erp:
  sql:
    dsn: erp.db
    table: customers
    key_column: id
    cursor_column: updated_at
    settle_time: -2s
    flags: [{platform: one, column: send_one}]
    rules: [{erp: nm, field: name}]
queue: {lease_timeout: -2m}
`
	f, err := Load(writeFile(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, f.Validate())
	want := []string{
		"customer_api.page_size",
		"customer_api.timeout",
		"customer_api.upstream.breaker_open",
		"customer_api.upstream.rate",
		"erp.sql.settle_time",
		"one.page_size",
		"one.timeout",
		"one.upstream.breaker_open",
		"one.upstream.burst",
		"one.upstream.rate",
		"queue.lease_timeout",
	}
	if !slices.Equal(paths(ps), want) {
		t.Fatalf("problems at %v, want %v:\n%v", paths(ps), want, ps)
	}
	for _, p := range ps {
		switch p.Path {
		case "one.upstream.rate":
			if !strings.Contains(p.Message, "NaN") {
				t.Errorf("%s", p)
			}
		case "customer_api.upstream.rate":
			if !strings.Contains(p.Message, "finite") {
				t.Errorf("%s", p)
			}
		case "one.timeout":
			if !strings.Contains(p.Message, "-5s") || !strings.Contains(p.Message, "default, 30s") {
				t.Errorf("%s", p)
			}
		}
	}

	// From the environment: NaN and Inf parse as numbers; they are refused
	// the same way.
	for _, v := range []string{"NaN", "Inf", "-Inf", "-1"} {
		f, err := Load(writeFile(t, minimal), []string{"ERPCONNECTOR_ONE_UPSTREAM_RATE=" + v})
		if err != nil {
			t.Fatal(err)
		}
		if ps := problems(t, f.Validate()); !slices.Equal(paths(ps), []string{"one.upstream.rate"}) {
			t.Errorf("rate %s: %v", v, ps)
		}
	}

	// The files adapter's hold-back too.
	files := `
one: {base_url: https://one.example.com, tenant: acme, api_key: k}
erp:
  adapter: files
  files:
    dir: drop
    key_column: id
    min_age: -1m
    flags: [{platform: one, column: send_one}]
    rules: [{erp: nm, field: name}]
`
	if f, err = Load(writeFile(t, files), nil); err != nil {
		t.Fatal(err)
	}
	if ps := problems(t, f.Validate()); !slices.Contains(paths(ps), "erp.files.min_age") {
		t.Errorf("a negative erp.files.min_age passed: %v", ps)
	}

	// Zero means the default: nothing to refuse.
	zeros := minimal + `queue: {lease_timeout: 0s}
`
	zeros = strings.Replace(zeros, "  api_key: k\n", "  api_key: k\n  timeout: 0s\n  page_size: 0\n  upstream: {rate: 0, burst: 0, breaker_open: 0s}\n", 1)
	if f, err = Load(writeFile(t, zeros), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("zeros (defaults) refused: %v", err)
	}
	if f.ONe.Timeout == 0 || f.ONe.PageSize == 0 || f.Queue.LeaseTimeout == 0 {
		t.Fatalf("zeros did not get their defaults: %+v %+v", f.ONe, f.Queue)
	}
}
