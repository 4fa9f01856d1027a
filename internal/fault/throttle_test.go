package fault

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestThrottleIsOffByDefault: without SetThrottle nothing is refused or
// delayed, and the counters show no throttled request.
func TestThrottleIsOffByDefault(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, okHandler())
	start := time.Now()
	for range 500 {
		if rec := serve(h); rec.Code != http.StatusOK {
			t.Fatalf("status %d without a throttle", rec.Code)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("500 unthrottled requests took %s", d)
	}
	if c := in.Counts()["op"]; c.Total != 500 || c.Throttled != 0 || c.Faulted != 0 {
		t.Fatalf("counts %+v", c)
	}
	if got := in.Throttle(); got != (Throttle{}) {
		t.Fatalf("default throttle %+v", got)
	}
}

// TestThrottleRefusesAboveTheRate: a bucket of 5 at 10 requests/s on a
// stopped clock takes 5 requests over all operations and refuses the rest
// with 429 and Retry-After 1, without running the operation; a second
// later 10 more tokens (capped at 5) are there.
func TestThrottleRefusesAboveTheRate(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	ran := 0
	h := func(op string) http.Handler {
		return in.Wrap(op, errWriter, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran++
			w.WriteHeader(http.StatusOK)
		}))
	}
	a, b := h("a"), h("b")
	if err := in.SetThrottle(Throttle{Rate: 10, Burst: 5}); err != nil {
		t.Fatal(err)
	}
	ok, refused := 0, 0
	for i := range 12 {
		hh := a
		if i%2 == 1 {
			hh = b
		}
		rec := serve(hh)
		switch rec.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			if ra := rec.Header().Get("Retry-After"); ra != "1" {
				t.Fatalf("Retry-After %q, want 1", ra)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	}
	if ok != 5 || refused != 7 || ran != 5 {
		t.Fatalf("accepted %d, refused %d, handler ran %d; want 5, 7, 5", ok, refused, ran)
	}
	c := in.Counts()
	if c["a"].Throttled+c["b"].Throttled != 7 || c["a"].ByStatus[429]+c["b"].ByStatus[429] != 7 || c["a"].Total+c["b"].Total != 12 {
		t.Fatalf("counts %+v", c)
	}
	if c["a"].Faulted+c["b"].Faulted != 0 {
		t.Fatalf("throttled requests counted as faulted: %+v", c)
	}
	now = now.Add(time.Second)
	ok = 0
	for range 8 {
		if serve(a).Code == http.StatusOK {
			ok++
		}
	}
	if ok != 5 {
		t.Fatalf("after a second %d accepted, want the burst of 5", ok)
	}
	if err := in.SetThrottle(Throttle{}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if serve(a).Code != http.StatusOK {
			t.Fatal("refused after the throttle was removed")
		}
	}
}

// TestThrottleRateOverTime: on the wall clock, at 200 requests/s with a
// burst of 50, requests sent back to back for 0.3 s are accepted at the
// rate after the burst, never above (a stall of the test's goroutine under
// load loses tokens only beyond the burst's 250 ms).
func TestThrottleRateOverTime(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, okHandler())
	if err := in.SetThrottle(Throttle{Rate: 200, Burst: 50}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok := 0
	for time.Since(start) < 300*time.Millisecond {
		if serve(h).Code == http.StatusOK {
			ok++
		}
	}
	el := time.Since(start).Seconds()
	if want := 50 + 200*el; float64(ok) > want+2 || float64(ok) < want*0.7 {
		t.Fatalf("accepted %d in %.3fs, want about %.0f", ok, el, want)
	}
}

// TestThrottleLatency: every request waits the latency, a refused one too,
// and a rule's latency comes on top.
func TestThrottleLatency(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, okHandler())
	if err := in.SetThrottle(Throttle{Latency: Duration(30 * time.Millisecond), Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		start := time.Now()
		rec := serve(h)
		if rec.Code != want {
			t.Fatalf("request %d: status %d, want %d", i, rec.Code, want)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Fatalf("request %d answered after %s, before the latency", i, d)
		}
	}
	if err := in.SetThrottle(Throttle{Latency: Duration(30 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Add(Rule{Latency: Duration(40 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if serve(h).Code != http.StatusOK {
		t.Fatal("refused without a rate")
	}
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Fatalf("answered after %s, want the throttle's and the rule's latency", d)
	}
}

// TestThrottledRetryAfterIsTracked: a request that comes back before the
// throttle's Retry-After counts as an early retry.
func TestThrottledRetryAfterIsTracked(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("create", errWriter, echoHandler())
	if err := in.SetThrottle(Throttle{Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "/x", `{"a":1}`); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := post(h, "/x", `{"a":2}`); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second: %d", rec.Code)
	}
	if rec := post(h, "/x", `{"a":2}`); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("third: %d", rec.Code)
	}
	if c := in.Counts()["create"]; c.EarlyRetries != 1 {
		t.Fatalf("early retries %d, want 1 (%+v)", c.EarlyRetries, c)
	}
}

func TestValidateThrottle(t *testing.T) {
	for _, th := range []Throttle{{Latency: -1}, {Rate: -1}, {Rate: 1, Burst: -1}, {Burst: 3}} {
		if err := New(1).SetThrottle(th); err == nil {
			t.Errorf("throttle %+v accepted", th)
		}
	}
	in := New(1)
	if err := in.SetThrottle(Throttle{Rate: 2.5}); err != nil {
		t.Fatal(err)
	}
	if got := in.Throttle(); got.Burst != 3 {
		t.Fatalf("default burst %d, want the rate rounded up", got.Burst)
	}
}

// TestThrottleControl: PUT and GET prefix/throttle install and show it.
func TestThrottleControl(t *testing.T) {
	in := New(1)
	mux := http.NewServeMux()
	in.RegisterControl(mux, "/_reference", errWriter)
	put := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/_reference/throttle", strings.NewReader(body)))
		return rec
	}
	if rec := put(`{"latency":"20ms","rate":200}`); rec.Code != http.StatusOK {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	want := Throttle{Latency: Duration(20 * time.Millisecond), Rate: 200, Burst: 200}
	if got := in.Throttle(); got != want {
		t.Fatalf("installed %+v, want %+v", got, want)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_reference/throttle", nil))
	var got Throttle
	if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&got); err != nil || got != want {
		t.Fatalf("get: %v %+v (%s)", err, got, rec.Body)
	}
	for _, bad := range []string{`{"rate":-1}`, `{"rate":1,"burst":-2}`, `{"speed":3}`, `not json`} {
		if rec := put(bad); rec.Code != http.StatusBadRequest {
			t.Errorf("put %s: %d, want 400", bad, rec.Code)
		}
	}
	if rec := put(`{}`); rec.Code != http.StatusOK || in.Throttle() != (Throttle{}) {
		t.Fatalf("removing: %d %+v", rec.Code, in.Throttle())
	}
}
