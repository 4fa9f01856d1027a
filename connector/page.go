package connector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// The status page: GET / on the admin API, server-rendered (html/template,
// no script), refreshing itself every pageRefresh seconds, with forms for
// the operator's actions:
//
//	GET  /              the page (?key= shows an ERP customer's trail,
//	                    ?platform=one|customer_api|erp filters the dead
//	                    letters, ?done= shows the outcome of a form)
//	POST /ui/login      token=… → a session cookie, then 303 to /
//	POST /ui/logout     ends the session
//	POST /ui/sync       run the scans and feed polls now (as POST /api/v1/sync)
//	POST /ui/pause      pause the schedules (as POST /api/v1/pause)
//	POST /ui/resume     resume them (as POST /api/v1/resume)
//	POST /ui/resync     start a resync, target=one|customer_api|all (as POST /api/v1/resync)
//	POST /ui/replay     replay one dead letter, id=… (as POST /api/v1/dlq/replay)
//
// Every form answers 303 back to the page with the outcome in ?done=
// (redirect after POST); the page does not refresh itself then, nor while
// it shows a trail.
//
// Protections, on top of the API's:
//
//   - Host. The page and its forms take the API's Host rule (adminGuard):
//     a request without the bearer token must name an allowed host. A
//     browser reaches a token-protected page under localhost, the listen
//     address or a name in AllowedHosts.
//   - Token. When the API has a token, the page needs it too: the bearer
//     header, or a session cookie got by posting the token to /ui/login
//     (without either, 401 and a login form). The cookie is HttpOnly,
//     SameSite=Strict, Secure (and named __Host-…) over TLS, lasts
//     pageSession, and holds an expiry, a random session id and their HMAC
//     under a random key of the process (a restart ends every session);
//     the token itself is in no cookie, page or log. Tokens and MACs are compared in constant time.
//   - Forms. The API refuses form posts by design; the /ui/ forms are
//     accepted instead with a CSRF token (the HMAC of the session under the
//     process key, in a hidden field, compared in constant time) and a
//     same-origin or absent Origin and Sec-Fetch-Site
//     (http.CrossOriginProtection): 403 otherwise, and nothing is done.
//   - The page may not be framed, sends no referrer and is not cached.

const (
	pageRefresh = 10 // seconds
	pageSession = 12 * time.Hour
	cookieName  = "erpconnector_session"
)

// pageServer serves the status page and its forms in front of the API.
type pageServer struct {
	c     *Connector
	api   http.Handler
	guard *adminGuard
	token []byte // nil without a token
	key   []byte // HMAC key of sessions and form tokens
	cop   *http.CrossOriginProtection
	mux   *http.ServeMux
}

// withPage serves the status page beside api (the guarded API).
func (c *Connector) withPage(opts AdminOptions, api http.Handler) http.Handler {
	p := &pageServer{c: c, api: api, guard: newAdminGuard(opts, nil), key: make([]byte, 32),
		cop: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	_, _ = rand.Read(p.key) // never fails (crypto/rand)
	if opts.Token != "" {
		p.token = []byte(opts.Token)
	}
	p.mux.HandleFunc("GET /{$}", p.page)
	p.mux.HandleFunc("POST /ui/login", p.login)
	p.mux.HandleFunc("POST /ui/logout", p.form(p.logout))
	p.mux.HandleFunc("POST /ui/sync", p.form(p.sync))
	p.mux.HandleFunc("POST /ui/pause", p.form(p.pause(true)))
	p.mux.HandleFunc("POST /ui/resume", p.form(p.pause(false)))
	p.mux.HandleFunc("POST /ui/resync", p.form(p.resync))
	p.mux.HandleFunc("POST /ui/replay", p.form(p.replay))
	return p
}

func (p *pageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && !strings.HasPrefix(r.URL.Path, "/ui/") {
		p.api.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if !p.bearer(r) && !p.guard.hostAllowed(r) {
		http.Error(w, fmt.Sprintf("status page: Host %q is not allowed (a guard against DNS rebinding): "+
			"use localhost, a loopback address or the listen address", r.Host), http.StatusForbidden)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// bearer reports whether r carries the bearer token.
func (p *pageServer) bearer(r *http.Request) bool {
	if p.token == nil {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && p.sameToken(got)
}

// sameToken compares a token with the configured one in constant time
// (their digests, so that not even the length shows).
func (p *pageServer) sameToken(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(p.token)
	return hmac.Equal(a[:], b[:])
}

// mac is the HMAC of parts under the process key.
func (p *pageServer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// session returns r's session (the cookie's value; empty without a token
// or with the bearer token) and whether r may see the page.
func (p *pageServer) session(r *http.Request) (string, bool) {
	if p.token == nil || p.bearer(r) {
		return "", true
	}
	ck, err := r.Cookie(cookieNameFor(r))
	if err != nil {
		return "", false
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 3 {
		return "", false
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || !p.c.now().Before(time.Unix(n, 0)) {
		return "", false
	}
	sig, want := parts[2], base64.RawURLEncoding.EncodeToString(p.mac("session", parts[0], parts[1]))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", false
	}
	return ck.Value, true
}

// cookieNameFor is the session cookie's name (__Host- prefixed over TLS).
func cookieNameFor(r *http.Request) string {
	if r.TLS != nil {
		return "__Host-" + cookieName
	}
	return cookieName
}

// csrf is the form token of a session.
func (p *pageServer) csrf(session string) string {
	return hex.EncodeToString(p.mac("form", session))
}

// login checks a posted token and starts a session.
func (p *pageServer) login(w http.ResponseWriter, r *http.Request) {
	if err := p.cop.Check(r); err != nil {
		http.Error(w, "status page: cross-origin login refused", http.StatusForbidden)
		return
	}
	if p.token == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
	if err := r.ParseForm(); err != nil || !p.sameToken(r.PostForm.Get("token")) {
		p.c.log.Warn("status page: login refused (wrong token)", "remote", r.RemoteAddr)
		p.renderLogin(w, r, "That token is not the admin API's token.")
		return
	}
	exp := strconv.FormatInt(p.c.now().Add(pageSession).Unix(), 10)
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	id := base64.RawURLEncoding.EncodeToString(nonce)
	value := exp + "." + id + "." + base64.RawURLEncoding.EncodeToString(p.mac("session", exp, id))
	http.SetCookie(w, &http.Cookie{Name: cookieNameFor(r), Value: value, Path: "/", MaxAge: int(pageSession / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	p.c.log.Info("status page: session started", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// form wraps a form's action: the session (401 without), a same-origin
// request and the form's CSRF token (403 otherwise); nothing is done
// before all three hold.
func (p *pageServer) form(action func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		session, ok := p.session(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="erpconnector"`)
			http.Error(w, "status page: log in first", http.StatusUnauthorized)
			return
		}
		if err := p.cop.Check(r); err != nil {
			http.Error(w, "status page: cross-origin form refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "status page: unreadable form", http.StatusBadRequest)
			return
		}
		if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(p.csrf(session))) {
			http.Error(w, "status page: the form's token is missing or stale (reload the page)", http.StatusForbidden)
			return
		}
		action(w, r)
	}
}

// done answers a form: back to the page with its outcome.
func done(w http.ResponseWriter, r *http.Request, outcome string, n int) {
	u := "/?done=" + outcome
	if n >= 0 {
		u += "&n=" + strconv.Itoa(n)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (p *pageServer) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieNameFor(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (p *pageServer) sync(w http.ResponseWriter, r *http.Request) {
	if err := p.c.startSync(); err != nil {
		done(w, r, "sync-paused", -1)
		return
	}
	done(w, r, "sync", -1)
}

func (p *pageServer) pause(paused bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		outcome := map[bool]string{true: "pause", false: "resume"}[paused]
		if err := p.c.SetPaused(r.Context(), paused); err != nil {
			p.c.log.Error("status page: "+outcome+" failed", "err", err)
			outcome = "failed"
		}
		done(w, r, outcome, -1)
	}
}

func (p *pageServer) resync(w http.ResponseWriter, r *http.Request) {
	if err := p.c.startResync(r.PostForm.Get("target")); err != nil {
		done(w, r, "resync-target", -1)
		return
	}
	done(w, r, "resync", -1)
}

func (p *pageServer) replay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PostForm.Get("id"), 10, 64)
	if err != nil || id == 0 {
		http.Error(w, "status page: id: want a dead letter's id", http.StatusBadRequest)
		return
	}
	res, err := p.c.ReplayDeadLetters(r.Context(), queue.DeadFilter{IDs: []uint64{id}})
	if err != nil {
		p.c.log.Error("status page: replay failed", "err", err)
		done(w, r, "failed", -1)
		return
	}
	done(w, r, "replay", res.Replayed+res.Superseded)
}
