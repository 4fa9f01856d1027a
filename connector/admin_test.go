package connector_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
)

func adminCall(t *testing.T, base, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminAPI drives the operator API: readiness, metrics, status, dead
// letters, cursors, pause and resume, with the bearer token.
func TestAdminAPI(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, worldOpts{records: 12, invalidEvery: 4, noStart: true})
	c, err := connector.New(connector.Options{Config: w.cfg, ERP: w.erp, Registerer: reg, Logger: w.logger()})
	if err != nil {
		t.Fatal(err)
	}
	w.conn = c
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	const token = "admin-token-0123456789"
	hs := httptest.NewServer(c.AdminHandler(connector.AdminOptions{Token: token, Gatherer: reg}))
	defer hs.Close()

	if st, _ := adminCall(t, hs.URL, "GET", "/healthz", "", ""); st != 200 {
		t.Fatalf("healthz %d", st)
	}
	if st, body := adminCall(t, hs.URL, "GET", "/readyz", "", ""); st != 503 || !strings.Contains(body, `"one": false`) {
		t.Fatalf("readyz before the first polls: %d %s", st, body)
	}
	if st, _ := adminCall(t, hs.URL, "GET", "/api/v1/status", "", ""); st != 401 {
		t.Fatalf("status without token: %d", st)
	}
	if st, _ := adminCall(t, hs.URL, "GET", "/metrics", "wrong", ""); st != 401 {
		t.Fatalf("metrics with a wrong token: %d", st)
	}
	w.sync()
	if st, body := adminCall(t, hs.URL, "GET", "/readyz", "", ""); st != 200 {
		t.Fatalf("readyz after the first polls: %d %s", st, body)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "erpconnector_ready")); got != 1 {
		t.Fatalf("erpconnector_ready = %v", got)
	}
	st, body := adminCall(t, hs.URL, "GET", "/metrics", token, "")
	for _, series := range []string{"erpconnector_records_total", "erpconnector_queue_jobs", "erpconnector_queue_dead_letters",
		"erpconnector_queue_breaker_state", "erpconnector_queue_limiter_wait_seconds", "erpconnector_feed_lag_seconds",
		"erpconnector_last_success_timestamp_seconds", "erpconnector_runs_total"} {
		if st != 200 || !strings.Contains(body, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "erpconnector_records_total"); err != nil || n == 0 {
		t.Fatalf("records_total series: %d %v", n, err)
	}

	st, body = adminCall(t, hs.URL, "GET", "/api/v1/status", token, "")
	var status connector.Status
	if st != 200 || json.Unmarshal([]byte(body), &status) != nil || status.Queue.Dead == 0 || status.Runs["feed"].LastSuccess.IsZero() {
		t.Fatalf("status %d %s", st, body)
	}
	if strings.Contains(body, apiKey) {
		t.Fatal("status shows the API key")
	}

	st, body = adminCall(t, hs.URL, "GET", "/api/v1/dlq", token, "")
	var list struct {
		DeadLetters []connector.DeadLetter `json:"dead_letters"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.DeadLetters) != status.Queue.Dead {
		t.Fatalf("dlq list %d %s", st, body)
	}
	one := list.DeadLetters[0]
	st, body = adminCall(t, hs.URL, "GET", "/api/v1/dlq/"+itoa(one.ID), token, "")
	if st != 200 || !strings.Contains(body, `"payload"`) || !strings.Contains(body, one.Key[len("one:push:"):]) {
		t.Fatalf("dlq show %d %s", st, body)
	}
	if st, _ := adminCall(t, hs.URL, "GET", "/api/v1/dlq/999999", token, ""); st != 404 {
		t.Fatalf("dlq show of an unknown id: %d", st)
	}
	st, body = adminCall(t, hs.URL, "POST", "/api/v1/dlq/replay", token, `{"ids":[`+itoa(one.ID)+`]}`)
	if st != 200 || !strings.Contains(body, `"Replayed": 1`) && !strings.Contains(body, `"replayed": 1`) {
		t.Fatalf("replay %d %s", st, body)
	}
	w.idle()
	st, body = adminCall(t, hs.URL, "POST", "/api/v1/dlq/purge", token, `{}`)
	if st != 200 || !strings.Contains(body, `"purged": `+itoa(uint64(status.Queue.Dead))) {
		t.Fatalf("purge %d %s", st, body)
	}

	st, body = adminCall(t, hs.URL, "GET", "/api/v1/cursors", token, "")
	if st != 200 || !strings.Contains(body, `"one.feed"`) {
		t.Fatalf("cursors %d %s", st, body)
	}
	if st, _ := adminCall(t, hs.URL, "PUT", "/api/v1/cursors/one.feed", token, `{"value":"abc"}`); st != 400 {
		t.Fatalf("a non-numeric feed cursor was accepted: %d", st)
	}
	if st, _ := adminCall(t, hs.URL, "PUT", "/api/v1/cursors/one.feed", token, `{"value":"1"}`); st != 200 {
		t.Fatalf("cursor set: %d", st)
	}
	if v, _ := c.Cursor(context.Background(), "one.feed"); v != "1" {
		t.Fatalf("cursor is %q", v)
	}
	if !strings.Contains(w.logs.String(), "cursor set by hand") {
		t.Fatal("the cursor change was not logged")
	}
	if st, _ := adminCall(t, hs.URL, "POST", "/api/v1/pause", token, ""); st != 200 || !c.Paused() {
		t.Fatal("pause")
	}
	if st, _ := adminCall(t, hs.URL, "POST", "/api/v1/resume", token, ""); st != 200 || c.Paused() {
		t.Fatal("resume")
	}
	st, body = adminCall(t, hs.URL, "GET", "/api/v1/plan?platform=one", token, "")
	if st != 200 || !strings.Contains(body, `"platform": "one"`) || !strings.Contains(body, `"counts"`) {
		t.Fatalf("plan %d %s", st, body)
	}
	// The Customer API is not configured here: planning or resyncing it is refused.
	if st, body := adminCall(t, hs.URL, "GET", "/api/v1/plan?platform=customer_api", token, ""); st != 400 || !strings.Contains(body, "not configured") {
		t.Fatalf("plan of an unconfigured platform: %d %s", st, body)
	}
	if st, _ := adminCall(t, hs.URL, "POST", "/api/v1/resync?target=nowhere", token, ""); st != 400 {
		t.Fatalf("resync of an unknown target: %d", st)
	}
	if st, _ := adminCall(t, hs.URL, "POST", "/api/v1/resync?target=one", token, ""); st != 202 {
		t.Fatalf("resync: %d", st)
	}
	w.idle()
	_ = erpgen.AllInvalid
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func itoa(n uint64) string { return strconvFormat(n) }
