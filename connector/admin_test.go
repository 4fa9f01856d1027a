package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
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
	// As the command line sends them (the admin API's cross-site guard).
	req.Header.Set(connector.RequestHeader, "1")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
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
	if st, body := adminCall(t, hs.URL, "GET", "/readyz", "", ""); st != 503 || !strings.Contains(body, `"one": false`) ||
		!strings.Contains(body, "has not succeeded yet") {
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
	if got := testutil.ToFloat64(mustGauge(t, reg, "erpconnector_paused")); got != 0 {
		t.Fatalf("erpconnector_paused = %v while running", got)
	}
	if err := c.SetPaused(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "erpconnector_paused")); got != 1 {
		t.Fatalf("erpconnector_paused = %v while paused", got)
	}
	if err := c.SetPaused(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	// Every dead-letter type of the configured platform has its series,
	// at 0 while it has no dead letters.
	if !strings.Contains(body, `erpconnector_queue_dead_letters{type="one.pull"} 0`) {
		t.Errorf("no zero dead-letter series for one.pull:\n%s", body)
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
	// The trail of the dead letter's customer: its refusal and the dead letter.
	key := strings.TrimPrefix(one.Key, "one:push:")
	if st, _ := adminCall(t, hs.URL, "GET", "/api/v1/trace/"+key, "", ""); st != 401 {
		t.Fatalf("trace without token: %d", st)
	}
	st, body = adminCall(t, hs.URL, "GET", "/api/v1/trace/"+key, token, "")
	var tr connector.Trace
	if st != 200 || json.Unmarshal([]byte(body), &tr) != nil || tr.ERPKey != key || len(tr.Platforms) != 1 ||
		len(tr.Platforms[0].DeadLetters) != 1 || tr.Platforms[0].DeadLetters[0].ID != one.ID ||
		len(tr.Platforms[0].History) == 0 || tr.Platforms[0].History[0].Outcome != "refused" {
		t.Fatalf("trace %d %s", st, body)
	}
	if st, body := adminCall(t, hs.URL, "GET", "/api/v1/trace/NO-SUCH-KEY", token, ""); st != 404 || !strings.Contains(body, "no record of NO-SUCH-KEY") {
		t.Fatalf("trace of an unknown key: %d %s", st, body)
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

// adminReq is one raw request to the admin API.
type adminReq struct {
	method, path, body string
	host               string            // the Host header ("" = the server's address)
	header             map[string]string // more headers
}

func adminDo(t *testing.T, base string, r adminReq) (int, string) {
	t.Helper()
	var rd io.Reader
	if r.body != "" {
		rd = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, base+r.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminBrowserGuards: without a token (the default, on loopback) the
// admin API refuses what a web page could send: cross-site form posts
// (urlencoded, text/plain, multipart; with or without a foreign Origin),
// cross-site fetches, and requests under a foreign Host (DNS rebinding);
// the command line's JSON calls pass.
func TestAdminBrowserGuards(t *testing.T) {
	w := newWorld(t, worldOpts{records: 12, invalidEvery: 4})
	w.sync()
	c := w.conn
	deadNow := func() int {
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Queue.Dead
	}
	dead := deadNow()
	if dead == 0 {
		t.Fatal("no dead letters to guard")
	}
	hs := httptest.NewServer(c.AdminHandler(connector.AdminOptions{}))
	defer hs.Close()
	addr := strings.TrimPrefix(hs.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	form := "application/x-www-form-urlencoded"
	const evil = "http://evil.example"
	refused := []struct {
		name   string
		req    adminReq
		status int
		msg    string
	}{
		{"form post, empty body", adminReq{method: "POST", path: "/api/v1/dlq/purge", header: map[string]string{"Content-Type": form}},
			415, "Content-Type: application/json"},
		{"form post with a body", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "a=b", header: map[string]string{"Content-Type": form}},
			415, "cross-site form posts"},
		{"no content type", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}"}, 415, "X-Erpconnector-Request: 1"},
		{"text/plain", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}", header: map[string]string{"Content-Type": "text/plain"}},
			415, "text/plain"},
		{"multipart", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "--x--\r\n",
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}}, 415, "multipart/form-data"},
		{"foreign Origin, form", adminReq{method: "POST", path: "/api/v1/dlq/purge",
			header: map[string]string{"Content-Type": form, "Origin": evil}}, 403, "cross-origin POST refused"},
		{"foreign Origin, text/plain", adminReq{method: "POST", path: "/api/v1/pause", body: "{}",
			header: map[string]string{"Content-Type": "text/plain", "Origin": evil}}, 403, "cross-origin"},
		{"foreign Origin, multipart", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "--x--\r\n",
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=x", "Origin": evil}}, 403, "cross-origin"},
		{"foreign Origin, JSON", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}",
			header: map[string]string{"Content-Type": "application/json", "Origin": evil}}, 403, "evil.example"},
		{"null Origin", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}",
			header: map[string]string{"Content-Type": "application/json", "Origin": "null"}}, 403, "cross-origin"},
		{"another local site", adminReq{method: "PUT", path: "/api/v1/cursors/one.feed", body: `{"value":"1"}`,
			header: map[string]string{"Content-Type": "application/json", "Origin": "http://localhost:3000"}}, 403, "cross-origin"},
		{"Sec-Fetch-Site cross-site", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}",
			header: map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}}, 403, "Sec-Fetch-Site"},
		{"empty purge body", adminReq{method: "POST", path: "/api/v1/dlq/purge", header: map[string]string{connector.RequestHeader: "1"}},
			400, "every dead letter"},
		{"rebinding: dead letters", adminReq{method: "GET", path: "/api/v1/dlq", host: "evil.example:" + port}, 403, "DNS rebinding"},
		{"rebinding: one dead letter", adminReq{method: "GET", path: "/api/v1/dlq/1", host: "evil.example"}, 403, `evil.example`},
		{"rebinding: trace", adminReq{method: "GET", path: "/api/v1/trace/C0000001", host: "evil.example:" + port}, 403, "DNS rebinding"},
		{"rebinding: purge", adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}", host: "evil.example:" + port,
			header: map[string]string{"Content-Type": "application/json"}}, 403, "Host"},
		{"rebinding: healthz", adminReq{method: "GET", path: "/healthz", host: "rebind.evil.example:" + port}, 403, "not allowed"},
		{"a loopback-looking name", adminReq{method: "GET", path: "/readyz", host: "localhost.evil.example:" + port}, 403, "not allowed"},
	}
	for _, tc := range refused {
		st, body := adminDo(t, hs.URL, tc.req)
		if st != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, st, strings.TrimSpace(body), tc.status, tc.msg)
		}
	}
	if got := deadNow(); got != dead {
		t.Fatalf("%d dead letters after the refused requests, want %d", got, dead)
	}
	if c.Paused() {
		t.Fatal("a refused request paused the schedules")
	}

	// What the command line and probes send passes.
	allowed := []struct {
		name string
		req  adminReq
		want int
	}{
		{"healthz", adminReq{method: "GET", path: "/healthz"}, 200},
		{"healthz as localhost", adminReq{method: "GET", path: "/healthz", host: "localhost:" + port}, 200},
		{"status as LOCALHOST.", adminReq{method: "GET", path: "/api/v1/status", host: "LOCALHOST.:" + port}, 200},
		{"status through a tunnel", adminReq{method: "GET", path: "/api/v1/status", host: "127.0.0.1:9999"}, 200},
		{"status as ::1", adminReq{method: "GET", path: "/api/v1/status", host: "[::1]:" + port}, 200},
		{"dead letters", adminReq{method: "GET", path: "/api/v1/dlq"}, 200},
		{"a page of the API itself", adminReq{method: "GET", path: "/api/v1/dlq", header: map[string]string{"Origin": evil}}, 200},
		{"pause with the header", adminReq{method: "POST", path: "/api/v1/pause", header: map[string]string{connector.RequestHeader: "1"}}, 200},
		{"resume with JSON", adminReq{method: "POST", path: "/api/v1/resume", body: "{}",
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 200},
		{"same-origin JSON", adminReq{method: "PUT", path: "/api/v1/cursors/one.feed", body: `{"value":"1"}`,
			header: map[string]string{"Content-Type": "application/json", "Origin": "http://" + addr, "Sec-Fetch-Site": "same-origin"}}, 200},
		{"replay", adminReq{method: "POST", path: "/api/v1/dlq/replay", body: `{"ids":[999999]}`,
			header: map[string]string{"Content-Type": "application/json"}}, 200},
	}
	for _, tc := range allowed {
		if st, body := adminDo(t, hs.URL, tc.req); st != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, st, strings.TrimSpace(body), tc.want)
		}
	}
	if st, body := adminDo(t, hs.URL, adminReq{method: "POST", path: "/api/v1/dlq/purge", body: "{}",
		header: map[string]string{"Content-Type": "application/json"}}); st != 200 || !strings.Contains(body, `"purged": `+itoa(uint64(dead))) {
		t.Fatalf("the command line's purge: %d %s", st, body)
	}

	// A name of its own: the listen address's host, or one allowed by hand.
	named := httptest.NewServer(c.AdminHandler(connector.AdminOptions{Listen: "erp-box.lan:8089", AllowedHosts: []string{"Admin.Example.com", "other.example:8443"}}))
	defer named.Close()
	for host, want := range map[string]int{"erp-box.lan:8089": 200, "admin.example.com:1": 200, "other.example:8443": 200,
		"other.example:8444": 403, "example.com:8089": 403} {
		if st, _ := adminDo(t, named.URL, adminReq{method: "GET", path: "/healthz", host: host}); st != want {
			t.Errorf("Host %s with allowed names: %d, want %d", host, st, want)
		}
	}

	// A Kubernetes probe connects to the pod IP with Host = pod IP:port:
	// the address the connection arrived on.
	h := c.AdminHandler(connector.AdminOptions{Listen: "0.0.0.0:8089", Token: "t0ken"})
	podIP := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 8089}
	for host, want := range map[string]int{"10.1.2.3:8089": 200, "10.1.2.3": 200, "0.0.0.0:8089": 200, "10.9.9.9:8089": 403, "erpconnector.svc:8089": 403} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Host = host
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, net.Addr(podIP)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("probe with Host %s: %d, want %d", host, rec.Code, want)
		}
	}
	// With a token, a request that carries it is not Host-checked (a web
	// page cannot send it): a Service name reaches the API.
	req := httptest.NewRequest("GET", "/api/v1/status", nil)
	req.Host = "erpconnector.svc:8089"
	req.Header.Set("Authorization", "Bearer t0ken")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("status with the token under a Service name: %d %s", rec.Code, rec.Body)
	}
}

// TestPauseSurvivesRestart: a pause is kept in the state file; a restarted
// connector stays paused, says so in its status and its logs, and runs no
// sync until resumed.
func TestPauseSurvivesRestart(t *testing.T) {
	w := newWorld(t, worldOpts{records: 6})
	ctx := context.Background()
	if err := w.conn.SetPaused(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.SyncOnce(ctx); !errors.Is(err, connector.ErrPaused) {
		t.Fatalf("SyncOnce while paused: %v", err)
	}
	w.stop()

	w.start()
	if !w.conn.Paused() {
		t.Fatal("the restarted connector is not paused")
	}
	if st, err := w.conn.Status(ctx); err != nil || !st.Paused {
		t.Fatalf("status after the restart: paused %v, %v", st.Paused, err)
	}
	if !strings.Contains(w.logs.String(), "schedules paused (kept in the state file)") {
		t.Fatal("the restarted connector does not log that it is paused")
	}
	if err := w.conn.SyncOnce(ctx); !errors.Is(err, connector.ErrPaused) {
		t.Fatalf("SyncOnce after the restart: %v", err)
	}
	if n := w.writes(); n != 0 {
		t.Fatalf("%d writes on ONe while paused", n)
	}
	// Resumed through the admin API; kept across the next restart too.
	hs := httptest.NewServer(w.conn.AdminHandler(connector.AdminOptions{}))
	if st, body := adminCall(t, hs.URL, "POST", "/api/v1/sync", "", ""); st != http.StatusConflict || !strings.Contains(body, "paused") {
		t.Fatalf("sync while paused: %d %s", st, body)
	}
	if st, body := adminCall(t, hs.URL, "POST", "/api/v1/resume", "", ""); st != 200 || !strings.Contains(body, `"paused": false`) {
		t.Fatalf("resume: %d %s", st, body)
	}
	hs.Close()
	w.stop()
	w.start()
	if w.conn.Paused() {
		t.Fatal("paused again after resume and a restart")
	}
	w.sync()
	if n := w.writes(); n == 0 {
		t.Fatal("nothing synced after resume")
	}
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
