package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoHandler answers with the request body it read, so a test sees
// whether the injector gave the handler the body intact.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write(b)
	})
}

func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return rec
}

func TestRetryAfterMaxIsUniformInRange(t *testing.T) {
	in := New(7)
	h := in.Wrap("op", errWriter, okHandler())
	if _, err := in.Add(Rule{Status: 429, RetryAfter: 1, RetryAfterMax: 3}); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for i := range 600 {
		// Distinct paths: distinct identities, none of them early.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/x/%d", i), nil))
		ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if rec.Code != 429 || err != nil {
			t.Fatalf("answer %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
		seen[ra]++
	}
	for v, n := range seen {
		if v < 1 || v > 3 {
			t.Fatalf("Retry-After %d outside [1, 3]", v)
		}
		if n < 100 { // 200 expected each
			t.Fatalf("Retry-After %d drawn %d times of 600: not uniform (%v)", v, n, seen)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("Retry-After values %v, want each of 1, 2, 3", seen)
	}
	if _, err := New(1).Add(Rule{Status: 429, RetryAfter: 3, RetryAfterMax: 2}); err == nil {
		t.Fatal("retryAfterMax below retryAfter accepted")
	}
	if _, err := New(1).Add(Rule{Status: 429, RetryAfterMax: -1}); err == nil {
		t.Fatal("negative retryAfterMax accepted")
	}
}

func TestEarlyRetriesAreCounted(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("create", errWriter, echoHandler())
	if _, err := in.Add(Rule{Status: 429, RetryAfter: 2, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "/clients", `{"a":1}`); rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("first answer %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if in.Tracked() != 1 {
		t.Fatalf("tracked %d identities, want 1", in.Tracked())
	}

	// A different body and a different path are other requests: not early.
	now = now.Add(500 * time.Millisecond)
	if rec := post(h, "/clients", `{"a":2}`); rec.Code != 200 || rec.Body.String() != `{"a":2}` {
		t.Fatalf("other body: %d %q", rec.Code, rec.Body.String())
	}
	if rec := post(h, "/clients/x", `{"a":1}`); rec.Code != 200 {
		t.Fatalf("other path: %d", rec.Code)
	}
	if got := in.Counts()["create"].EarlyRetries; got != 0 {
		t.Fatalf("different identities counted as early: %d", got)
	}

	// The same request 1 s after a Retry-After of 2 s: early, twice; the
	// handler still reads the whole body.
	now = now.Add(500 * time.Millisecond)
	if rec := post(h, "/clients", `{"a":1}`); rec.Code != 200 || rec.Body.String() != `{"a":1}` {
		t.Fatalf("early repeat: %d %q", rec.Code, rec.Body.String())
	}
	now = now.Add(900 * time.Millisecond)
	post(h, "/clients", `{"a":1}`)
	if got := in.Counts()["create"].EarlyRetries; got != 2 {
		t.Fatalf("early retries %d, want 2", got)
	}
	// At the Retry-After: in time, and the identity is forgotten.
	now = now.Add(100 * time.Millisecond)
	post(h, "/clients", `{"a":1}`)
	post(h, "/clients", `{"a":1}`)
	c := in.Counts()["create"]
	if c.EarlyRetries != 2 || c.Total != 7 {
		t.Fatalf("counts %+v, want 2 early of 7", c)
	}
	if in.Tracked() != 0 {
		t.Fatalf("a satisfied identity is still tracked (%d)", in.Tracked())
	}
}

func TestLateRetryIsNotEarly(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("get", errWriter, okHandler())
	_, _ = in.Add(Rule{Status: 503, RetryAfter: 3, Count: 1})
	if serve(h).Code != 503 {
		t.Fatal("no 503")
	}
	now = now.Add(3 * time.Second)
	if serve(h).Code != 200 {
		t.Fatal("retry not served")
	}
	if got := in.Counts()["get"].EarlyRetries; got != 0 {
		t.Fatalf("a retry after its Retry-After counted early (%d)", got)
	}
}

func TestOutageWindowRetryAfterIsTracked(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("get", errWriter, okHandler())
	_, _ = in.Add(Rule{From: now, Until: now.Add(10 * time.Second)})
	if rec := serve(h); rec.Code != 503 || rec.Header().Get("Retry-After") != "10" {
		t.Fatalf("outage answer %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	now = now.Add(4 * time.Second)
	serve(h) // early: answered 503 again with Retry-After 6
	now = now.Add(6 * time.Second)
	if serve(h).Code != 200 {
		t.Fatal("after the outage")
	}
	if got := in.Counts()["get"].EarlyRetries; got != 1 {
		t.Fatalf("early retries %d, want 1", got)
	}
}

func TestStatusWithoutRetryAfterIsNotTracked(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, echoHandler())
	_, _ = in.Add(Rule{Status: 500, Count: 1})
	post(h, "/", "x")
	if in.Tracked() != 0 {
		t.Fatal("an answer without Retry-After was tracked")
	}
	if rec := post(h, "/", "x"); rec.Code != 200 || rec.Body.String() != "x" || in.Counts()["op"].EarlyRetries != 0 {
		t.Fatalf("immediate repeat after a plain 500: %d %q %+v", rec.Code, rec.Body.String(), in.Counts()["op"])
	}
}

func TestTrackedIdentitiesAreBounded(t *testing.T) {
	in := New(1)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in.SetClock(func() time.Time { return now })
	h := in.Wrap("op", errWriter, okHandler())
	_, _ = in.Add(Rule{Status: 429, RetryAfter: 1})
	for i := range 3 * minSweep {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/r/%d", i), nil))
		now = now.Add(10 * time.Millisecond) // each identity expires 1 s later
	}
	// Identities whose Retry-After passed are swept: about 100 are live.
	if got := in.Tracked(); got > 2*minSweep {
		t.Fatalf("%d identities tracked after %d answers: expired ones are kept", got, 3*minSweep)
	}
}

func TestLargeBodyReachesHandlerIntact(t *testing.T) {
	in := New(1)
	h := in.Wrap("op", errWriter, echoHandler())
	_, _ = in.Add(Rule{Status: 429, RetryAfter: 1, Count: 1})
	big := bytes.Repeat([]byte("0123456789abcdef"), (maxIdentityBody/16)+100) // over 1 MiB
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big)))
	if rec.Code != 429 {
		t.Fatalf("first answer %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big)))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), big) {
		t.Fatalf("handler got %d bytes of %d", rec.Body.Len(), len(big))
	}
	var c map[string]OpCount
	b, _ := json.Marshal(in.Counts())
	if err := json.Unmarshal(b, &c); err != nil || c["op"].EarlyRetries != 1 || !bytes.Contains(b, []byte(`"earlyRetries":1`)) {
		t.Fatalf("counters JSON %s", b)
	}
}
