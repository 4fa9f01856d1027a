package fault

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"pad":"0123456789"}`))
	})
}

func errWriter(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func serve(h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec
}

func TestProbabilityCountAndOperation(t *testing.T) {
	in := New(42)
	h := in.Wrap("get", errWriter, okHandler())
	other := in.Wrap("list", errWriter, okHandler())
	if _, err := in.Add(Rule{Operation: "get", Status: 500, Probability: 0.3}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for range 2000 {
		if serve(h).Code == 500 {
			failed++
		}
	}
	// 30 % of 2000 with a fixed seed; a wide band guards against a broken draw
	// (always or never firing) without being flaky.
	if failed < 450 || failed > 750 {
		t.Fatalf("%d of 2000 faulted at p=0.3", failed)
	}
	if serve(other).Code != 200 {
		t.Fatal("rule for get fired on list")
	}
	c := in.Counts()
	if c["get"].Total != 2000 || c["get"].ByStatus[500] != int64(failed) || c["get"].Faulted != int64(failed) || c["list"].Total != 1 {
		t.Fatalf("counts %+v", c)
	}
	in.Clear()
	id, _ := in.Add(Rule{Status: 429, RetryAfter: 5, Count: 2})
	codes := []int{serve(h).Code, serve(h).Code, serve(h).Code}
	if codes[0] != 429 || codes[1] != 429 || codes[2] != 200 {
		t.Fatalf("count 2 gave %v", codes)
	}
	if in.Remove(id) != true || in.Remove(id) != false {
		t.Fatal("remove")
	}
}

func TestRetryAfterAndWindow(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("op", errWriter, okHandler())
	_, _ = in.Add(Rule{From: now.Add(time.Minute), Until: now.Add(2 * time.Minute)})
	if serve(h).Code != 200 {
		t.Fatal("outage before its window")
	}
	now = now.Add(90 * time.Second)
	rec := serve(h)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("in window: %d retry-after %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	now = now.Add(time.Minute)
	if serve(h).Code != 200 {
		t.Fatal("outage after its window")
	}
}

func TestBodyFaults(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, okHandler())
	_, _ = in.Add(Rule{Truncate: true, Count: 1})
	_, _ = in.Add(Rule{Malformed: true, Count: 1})
	var v any
	for i := range 2 {
		rec := serve(h)
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) == nil {
			t.Fatalf("request %d: body still valid JSON: %s", i, rec.Body.Bytes())
		}
	}
	if rec := serve(h); json.Unmarshal(rec.Body.Bytes(), &v) != nil {
		t.Fatal("faults outlived their count")
	}
}

func TestValidateRule(t *testing.T) {
	bad := []Rule{{Probability: 1.5}, {Status: 42}, {Count: -1}, {Latency: -1},
		{From: time.Unix(10, 0), Until: time.Unix(5, 0)}}
	for _, r := range bad {
		if _, err := New(1).Add(r); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"250ms"`), &d); err != nil || time.Duration(d) != 250*time.Millisecond {
		t.Fatalf("duration string: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`1500`), &d); err != nil || time.Duration(d) != 1500*time.Millisecond {
		t.Fatalf("duration ms: %v %v", d, err)
	}
}
