package connector_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/problem"
)

// TestConfigRefusesValuesThatMeanNothing: NaN or infinite rates, negative
// durations and bursts, and (in a Config validated without Defaults) zero
// page sizes and timeouts are refused, each with its key path, all at once.
func TestConfigRefusesValuesThatMeanNothing(t *testing.T) {
	valid := connector.Config{
		StatePath:   "state.db",
		ONe:         &connector.ONeConfig{BaseURL: "https://one.example.com", Tenant: "t", APIKey: "k"},
		CustomerAPI: &connector.CustomerAPIConfig{BaseURL: "https://capi.example.com", APIToken: "t"},
	}
	if err := valid.Defaults().Validate(); err != nil {
		t.Fatalf("the valid configuration: %v", err)
	}
	pathsOf := func(err error) []string {
		// The problems are typed: their paths are read, not parsed.
		var out []string
		for _, p := range problem.List(err) {
			out = append(out, p.Path)
		}
		slices.Sort(out)
		return out
	}

	bad := valid
	one, capi := *valid.ONe, *valid.CustomerAPI
	one.Timeout, one.PageSize = -time.Second, -1
	one.Upstream = connector.Upstream{Rate: math.NaN(), Burst: -1, BreakerOpen: -time.Second}
	capi.Timeout, capi.PageSize = -time.Millisecond, -5
	capi.Upstream = connector.Upstream{Rate: math.Inf(1), BreakerOpen: -time.Minute}
	bad.ONe, bad.CustomerAPI = &one, &capi
	bad.Queue.LeaseTimeout = -time.Minute
	bad.Queue.HealAfter = -time.Second
	err := bad.Defaults().Validate()
	want := []string{
		"customer_api.page_size", "customer_api.timeout", "customer_api.upstream.breaker_open", "customer_api.upstream.rate",
		"one.page_size", "one.timeout", "one.upstream.breaker_open", "one.upstream.burst", "one.upstream.rate",
		"queue.heal_after", "queue.lease_timeout",
	}
	if got := pathsOf(err); !slices.Equal(got, want) {
		t.Fatalf("problems at %v, want %v:\n%v", got, want, err)
	}
	for _, s := range []string{"one.upstream.rate: must be a number of requests per second, got NaN",
		"customer_api.upstream.rate: must be finite, got +Inf (0 means unlimited)",
		"one.timeout: must be positive, got -1s (leave it out for the default, 30s)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("no %q in:\n%v", s, err)
		}
	}

	// Without Defaults, zeros mean nothing: every one is named.
	raw := valid
	raw.ERP.PageSize = 500
	raw.Queue = connector.QueueConfig{MaxAttempts: 1}
	o := connector.ONeConfig{BaseURL: "https://one.example.com", Tenant: "t", APIKey: "k", UpdateMode: "full", OnUnflag: "unbind",
		OnDelete: "unlink", Upstream: connector.Upstream{Workers: 1, BreakerFailures: 1, BreakerOpen: time.Second}}
	raw.ONe, raw.CustomerAPI = &o, nil
	want = []string{"one.page_size", "one.timeout", "queue.heal_after", "queue.lease_timeout"}
	if got := pathsOf(raw.Validate()); !slices.Equal(got, want) {
		t.Fatalf("zeros without Defaults: problems at %v, want %v", got, want)
	}
}

// TestUpstreamRateSpacesRequestsEvenly: a rate without a burst sends the
// requests evenly spaced (burst 1) on both platforms: a platform that
// allows that rate with any bucket of its own never answers 429 for it,
// while a burst equal to the rate overran one whose bucket fills at the
// same rate as soon as latencies jittered. A burst given is kept.
func TestUpstreamRateSpacesRequestsEvenly(t *testing.T) {
	c := connector.Config{
		StatePath:   "state.db",
		ONe:         &connector.ONeConfig{BaseURL: "https://one.example.com", Tenant: "t", APIKey: "k", Upstream: connector.Upstream{Rate: 200}},
		CustomerAPI: &connector.CustomerAPIConfig{BaseURL: "https://capi.example.com", APIToken: "t", Upstream: connector.Upstream{Rate: 50, Burst: 7}},
	}.Defaults()
	if got := c.ONe.Upstream.Burst; got != 1 {
		t.Errorf("ONe burst %d for rate 200 with none given, want 1", got)
	}
	if got := c.CustomerAPI.Upstream.Burst; got != 7 {
		t.Errorf("Customer API burst %d, want the 7 given", got)
	}
	c = connector.Config{StatePath: "state.db",
		CustomerAPI: &connector.CustomerAPIConfig{BaseURL: "https://capi.example.com", APIToken: "t", Upstream: connector.Upstream{Rate: 50}}}.Defaults()
	if got := c.CustomerAPI.Upstream.Burst; got != 1 {
		t.Errorf("Customer API burst %d for rate 50 with none given, want 1", got)
	}
}
