package connector_test

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

const pageToken = "page-token-0123456789abcdef"

// pageCall sends one request to the admin handler and returns the answer
// (redirects are not followed); every body is checked for the token.
type pageCall struct {
	method, path, host string
	form               url.Values
	header             map[string]string
	cookie             *http.Cookie
}

type pageAnswer struct {
	code     int
	body     string
	location string
	cookies  []*http.Cookie
}

func doPage(t *testing.T, base string, c pageCall) pageAnswer {
	t.Helper()
	var body io.Reader
	if c.form != nil {
		body = strings.NewReader(c.form.Encode())
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), pageToken) || strings.Contains(resp.Header.Get("Set-Cookie"), pageToken) {
		t.Fatalf("%s %s: the token appears in the answer", c.method, c.path)
	}
	return pageAnswer{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), cookies: resp.Cookies()}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// csrfOf returns the form token of a rendered page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form token in the page:\n%s", body)
	}
	return m[1]
}

// pageWorld is a synced ONe world with two refused records (dead letters)
// and the admin handler, with the token, on a real socket.
func pageWorld(t *testing.T) (*world, *httptest.Server) {
	t.Helper()
	w, _ := refusedWorld(t, 10, 2, worldOpts{})
	w.sync()
	hs := httptest.NewServer(w.conn.AdminHandler(connector.AdminOptions{Token: pageToken}))
	t.Cleanup(hs.Close)
	return w, hs
}

// login posts the token and returns the session cookie.
func login(t *testing.T, base string) *http.Cookie {
	t.Helper()
	a := doPage(t, base, pageCall{method: "POST", path: "/ui/login", form: url.Values{"token": {pageToken}}})
	if a.code != http.StatusSeeOther || a.location != "/" || len(a.cookies) != 1 {
		t.Fatalf("login: %d %q %v", a.code, a.location, a.cookies)
	}
	ck := a.cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure without TLS", ck)
	}
	return ck
}

// TestPageRequiresTheToken: without the token the page is a login form
// (401); a wrong token, a forged or altered cookie are refused; the bearer
// token or the cookie a login sets show the page; a foreign Host is
// refused unless the request carries the bearer token.
func TestPageRequiresTheToken(t *testing.T) {
	w, hs := pageWorld(t)
	a := doPage(t, hs.URL, pageCall{method: "GET", path: "/"})
	if a.code != http.StatusUnauthorized || !strings.Contains(a.body, `action="/ui/login"`) || strings.Contains(a.body, "Run history") {
		t.Fatalf("without the token: %d\n%s", a.code, a.body)
	}
	if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/", header: map[string]string{"Authorization": "Bearer wrong"}}); a.code != 401 {
		t.Fatalf("wrong bearer token: %d", a.code)
	}
	a = doPage(t, hs.URL, pageCall{method: "POST", path: "/ui/login", form: url.Values{"token": {pageToken + "x"}}})
	if a.code != 401 || len(a.cookies) != 0 || !strings.Contains(a.body, "not the admin API") {
		t.Fatalf("wrong token at the login: %d %v", a.code, a.cookies)
	}
	ck := login(t, hs.URL)
	if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/", cookie: ck}); a.code != 200 || !strings.Contains(a.body, "Run history") ||
		!strings.Contains(a.body, `content="10"`) || !strings.Contains(a.body, "/ui/logout") {
		t.Fatalf("with the session: %d\n%s", a.code, a.body)
	}
	for name, v := range map[string]string{"forged": "9999999999.AAAA", "altered": ck.Value + "x", "no mac": "9999999999"} {
		if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/", cookie: &http.Cookie{Name: ck.Name, Value: v}}); a.code != 401 {
			t.Fatalf("%s cookie: %d", name, a.code)
		}
	}
	bearer := map[string]string{"Authorization": "Bearer " + pageToken}
	if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/", header: bearer}); a.code != 200 {
		t.Fatalf("bearer token: %d", a.code)
	}
	for _, c := range []pageCall{
		{method: "GET", path: "/", host: "evil.example", cookie: ck},
		{method: "POST", path: "/ui/login", host: "evil.example", form: url.Values{"token": {pageToken}}},
		{method: "POST", path: "/ui/pause", host: "evil.example:8089", cookie: ck, form: url.Values{}},
	} {
		if a = doPage(t, hs.URL, c); a.code != http.StatusForbidden || !strings.Contains(a.body, "DNS rebinding") {
			t.Fatalf("%s %s with Host %s: %d %s", c.method, c.path, c.host, a.code, a.body)
		}
	}
	if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/", host: "evil.example", header: bearer}); a.code != 200 {
		t.Fatalf("bearer token under a foreign Host: %d", a.code)
	}
	// The API's own routes are as before: the cookie does not open them.
	if a = doPage(t, hs.URL, pageCall{method: "GET", path: "/api/v1/status", cookie: ck}); a.code != 401 {
		t.Fatalf("API status with the page's cookie: %d", a.code)
	}
	if strings.Contains(w.logs.String(), pageToken) {
		t.Fatal("the token appears in the logs")
	}

	// Without a token the page needs no login (the API is then on loopback
	// and Host-guarded); its forms still need their token.
	open := httptest.NewServer(w.conn.AdminHandler(connector.AdminOptions{}))
	defer open.Close()
	if a = doPage(t, open.URL, pageCall{method: "GET", path: "/"}); a.code != 200 || !strings.Contains(a.body, "Run history") ||
		strings.Contains(a.body, "/ui/logout") {
		t.Fatalf("page without a token: %d", a.code)
	}
	if a = doPage(t, open.URL, pageCall{method: "POST", path: "/ui/pause", form: url.Values{}}); a.code != 403 || w.conn.Paused() {
		t.Fatalf("form without its token, no API token: %d", a.code)
	}
	if a = doPage(t, open.URL, pageCall{method: "GET", path: "/", host: "evil.example"}); a.code != 403 {
		t.Fatalf("foreign Host without a token: %d", a.code)
	}
}

// TestPageFormsAreCSRFSafe: a form post without the form token, with
// another session's token, or from another site (Origin,
// Sec-Fetch-Site) is refused with 403 and changes nothing; the API still
// refuses form posts; a good form pauses, answers 303 to the page with
// its outcome, and that page does not refresh itself.
func TestPageFormsAreCSRFSafe(t *testing.T) {
	w, hs := pageWorld(t)
	ck := login(t, hs.URL)
	page := doPage(t, hs.URL, pageCall{method: "GET", path: "/", cookie: ck})
	csrf := csrfOf(t, page.body)
	other := csrfOf(t, doPage(t, hs.URL, pageCall{method: "GET", path: "/", cookie: login(t, hs.URL)}).body)
	if other == csrf {
		t.Fatal("two sessions share a form token")
	}
	for name, c := range map[string]pageCall{
		"no token":      {form: url.Values{}},
		"wrong token":   {form: url.Values{"csrf": {strings.Repeat("0", 64)}}},
		"other session": {form: url.Values{"csrf": {other}}},
		"cross-site":    {form: url.Values{"csrf": {csrf}}, header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"same-site":     {form: url.Values{"csrf": {csrf}}, header: map[string]string{"Sec-Fetch-Site": "same-site"}},
		"origin":        {form: url.Values{"csrf": {csrf}}, header: map[string]string{"Origin": "http://evil.example"}},
		"token in URL":  {path: "/ui/pause?csrf=" + csrf, form: url.Values{}},
	} {
		c.method, c.cookie = "POST", ck
		if c.path == "" {
			c.path = "/ui/pause"
		}
		if a := doPage(t, hs.URL, c); a.code != http.StatusForbidden {
			t.Fatalf("%s: %d %s", name, a.code, a.body)
		}
		if w.conn.Paused() {
			t.Fatalf("%s: the refused form paused the schedules", name)
		}
	}
	if a := doPage(t, hs.URL, pageCall{method: "POST", path: "/ui/pause", form: url.Values{"csrf": {csrf}}}); a.code != 401 || w.conn.Paused() {
		t.Fatalf("form without the session: %d", a.code)
	}
	if a := doPage(t, hs.URL, pageCall{method: "POST", path: "/api/v1/pause", form: url.Values{"csrf": {csrf}},
		header: map[string]string{"Authorization": "Bearer " + pageToken}}); a.code != http.StatusUnsupportedMediaType || w.conn.Paused() {
		t.Fatalf("a form post to the API: %d", a.code)
	}
	a := doPage(t, hs.URL, pageCall{method: "POST", path: "/ui/pause", cookie: ck, form: url.Values{"csrf": {csrf}},
		header: map[string]string{"Origin": hs.URL, "Sec-Fetch-Site": "same-origin"}})
	if a.code != http.StatusSeeOther || a.location != "/?done=pause" || !w.conn.Paused() {
		t.Fatalf("good form: %d %q paused=%v", a.code, a.location, w.conn.Paused())
	}
	a = doPage(t, hs.URL, pageCall{method: "GET", path: a.location, cookie: ck})
	if !strings.Contains(a.body, "Schedules paused") || strings.Contains(a.body, "http-equiv=\"refresh\"") || !strings.Contains(a.body, `id="resume"`) {
		t.Fatalf("page after the form:\n%s", a.body)
	}
	a = doPage(t, hs.URL, pageCall{method: "POST", path: "/ui/resume", cookie: ck, form: url.Values{"csrf": {csrf}}})
	if a.code != http.StatusSeeOther || w.conn.Paused() {
		t.Fatalf("resume: %d paused=%v", a.code, w.conn.Paused())
	}
}

// TestPageShowsRunsDeadLettersAndTrails: the page lists the run history
// with its counts, the dead letters (filtered by platform) with their
// reasons, a record's trail (without refreshing), and its replay form
// replays exactly the dead letter named.
func TestPageShowsRunsDeadLettersAndTrails(t *testing.T) {
	w, hs := pageWorld(t)
	ck := login(t, hs.URL)
	dead := deadLetters(t, w, oneHarness)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters", len(dead))
	}
	page := doPage(t, hs.URL, pageCall{method: "GET", path: "/", cookie: ck}).body
	scan := latestRun(t, w, connector.RunNewCustomers)
	row := regexp.MustCompile(`data-run="` + strconvFormat(scan.ID) + `" data-pipeline="new_customers" data-platform="one">(?s:.*?)<td class="n created">(\d+)</td>(?s:.*?)<td class="n rejected">(\d+)</td>`)
	if m := row.FindStringSubmatch(page); m == nil || m[1] != strconvFormat(uint64(scan.Platforms["one"].Created)) || m[2] != "2" {
		t.Fatalf("run history row of the scan %+v: %v\n%s", scan, m, page)
	}
	for _, d := range dead {
		if !strings.Contains(page, `id="dead-`+strconvFormat(d.ID)+`"`) || !strings.Contains(page, escapeHTML(d.LastError)) {
			t.Fatalf("dead letter %d (%s) not listed with its reason", d.ID, d.LastError)
		}
	}
	if p := doPage(t, hs.URL, pageCall{method: "GET", path: "/?platform=customer_api", cookie: ck}).body; regexp.MustCompile(`id="dead-\d`).MatchString(p) {
		t.Fatal("the customer_api filter lists ONe's dead letters")
	}
	key := strings.TrimPrefix(dead[0].Key, "one:push:")
	tr := doPage(t, hs.URL, pageCall{method: "GET", path: "/?key=" + url.QueryEscape(key), cookie: ck}).body
	if !strings.Contains(tr, "Trail of "+key) || !strings.Contains(tr, "<td>refused</td>") || strings.Contains(tr, `http-equiv="refresh"`) {
		t.Fatalf("trail of %s:\n%s", key, tr)
	}
	a := doPage(t, hs.URL, pageCall{method: "POST", path: "/ui/replay", cookie: ck,
		form: url.Values{"csrf": {csrfOf(t, page)}, "id": {strconvFormat(dead[0].ID)}}})
	if a.code != http.StatusSeeOther || a.location != "/?done=replay&n=1" {
		t.Fatalf("replay form: %d %q", a.code, a.location)
	}
	w.idle()
	if r := latestRun(t, w, connector.RunReplay).Platforms["one"]; r.Queued != 1 || r.Rejected != 1 {
		t.Fatalf("the replay's record: %+v", r)
	}
	if _, err := w.conn.Store().DeadLetter(context.Background(), dead[1].ID); err != nil {
		t.Fatalf("the other dead letter was replayed too: %v", err)
	}
	if _, err := w.conn.Store().DeadLetter(context.Background(), dead[0].ID); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("the replayed dead letter is still there under its id: %v", err)
	}
}

// escapeHTML escapes text as html/template does.
func escapeHTML(s string) string {
	var b strings.Builder
	_ = template.Must(template.New("").Parse("{{.}}")).Execute(&b, s)
	return b.String()
}
