package connector

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// adminGuard applies the admin API's browser protections (see AdminHandler).
type adminGuard struct {
	next       http.Handler
	bearer     []byte // "Bearer <token>", nil without a token
	listenHost string
	allowAll   bool
	allowed    map[string]bool // lower-case "name" or "name:port"
	cop        *http.CrossOriginProtection
}

func newAdminGuard(opts AdminOptions, next http.Handler) *adminGuard {
	g := &adminGuard{next: next, allowed: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	if opts.Token != "" {
		g.bearer = []byte("Bearer " + opts.Token)
	}
	if h, _, err := net.SplitHostPort(opts.Listen); err == nil {
		g.listenHost = normHost(h)
	}
	for _, h := range opts.AllowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			g.allowAll = true
		}
		if h != "" {
			g.allowed[h] = true
		}
	}
	return g
}

func (g *adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	authed := g.bearer != nil && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), g.bearer) == 1
	if !authed && !g.hostAllowed(r) {
		writeError(w, http.StatusForbidden, fmt.Errorf("admin API: Host %q is not allowed (a guard against DNS rebinding): "+
			"use localhost, a loopback address or the listen address", r.Host))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if err := g.cop.Check(r); err != nil {
			writeError(w, http.StatusForbidden, fmt.Errorf("admin API: cross-origin %s refused (Origin %q): %w", r.Method, r.Header.Get("Origin"), err))
			return
		}
		if !programmatic(r) {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("admin API: a %s needs Content-Type: application/json "+
				"or the header %s: 1 (a guard against cross-site form posts); got Content-Type %q",
				r.Method, RequestHeader, r.Header.Get("Content-Type")))
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// programmatic reports whether a request carries what a web page cannot
// send cross-site without a preflight: a JSON content type or RequestHeader.
func programmatic(r *http.Request) bool {
	if r.Header.Get(RequestHeader) == "1" {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// hostAllowed applies the Host rule (see AdminHandler).
func (g *adminGuard) hostAllowed(r *http.Request) bool {
	if g.allowAll || r.Host == "" {
		return true // no Host (HTTP/1.0): not a browser
	}
	if g.allowed[strings.ToLower(r.Host)] {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = normHost(host)
	if host == "localhost" || g.allowed[host] || host == g.listenHost && host != "" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := a.(*net.TCPAddr); ok && ta.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// normHost lower-cases a host and drops IPv6 brackets and a trailing dot.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// authed wraps a handler in the admin API's authentication.
type authed func(h http.HandlerFunc) http.Handler

// requireToken refuses a request without the bearer token (401), in
// constant time; an empty token requires nothing.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="erpconnector"`)
			writeError(w, http.StatusUnauthorized, errors.New("a valid bearer token is required"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
