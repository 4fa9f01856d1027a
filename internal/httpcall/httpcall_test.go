package httpcall

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// seen is what the server received.
type seen struct {
	method, uri string
	length      int64
	chunked     bool
	header      http.Header
	body        string
}

func server(t *testing.T, answer http.HandlerFunc) (*httptest.Server, *seen) {
	t.Helper()
	var s seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s = seen{r.Method, r.RequestURI, r.ContentLength, len(r.TransferEncoding) > 0, r.Header.Clone(), string(b)}
		answer(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &s
}

func TestRequestOnTheWire(t *testing.T) {
	ts, s := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	fixed := http.Header{}
	fixed.Set("one-tenant", "t")
	for _, tc := range []struct {
		method, path string
		query        url.Values
		body         []byte
		uri          string
		length       int64
		chunked      bool
		sent         string
	}{
		{"GET", "/a/x%3Ay", url.Values{"b": {"2", "1"}, "a": {"x y&z"}, "empty": {}}, nil, "/a/x%3Ay?a=x+y%26z&b=2&b=1", 0, false, ""},
		{"GET", "/a", nil, []byte(`{"ignored":1}`), "/a", 0, false, ""},
		{"POST", "/a", nil, []byte(`{"x":1}`), "/a", 7, false, `{"x":1}`},
		// Without a body, a POST goes chunked and a DELETE bare, as with resty before.
		{"POST", "/a/activate", nil, nil, "/a/activate", -1, true, ""},
		{"DELETE", "/a/1", nil, nil, "/a/1", 0, false, ""},
	} {
		req, err := NewRequest(context.Background(), tc.method, ts.URL+"/base", tc.path, tc.query, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = Headers(fixed, 0)
		resp, body, err := Do(ts.Client(), req)
		if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("%s %s: %v %v %q", tc.method, tc.path, resp, err, body)
		}
		if s.method != tc.method || s.uri != "/base"+tc.uri || s.length != tc.length || s.chunked != tc.chunked ||
			s.body != tc.sent || s.header.Get("One-Tenant") != "t" {
			t.Errorf("%s %s: the server saw %+v", tc.method, tc.path, *s)
		}
	}
	if len(fixed) != 1 || fixed.Get("One-Tenant") != "t" {
		t.Fatalf("the fixed headers changed: %v", fixed)
	}
}

func TestBodylessPostFollowsA307(t *testing.T) {
	ts, s := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			http.Redirect(w, r, r.URL.Path+"?again=1", http.StatusTemporaryRedirect)
			return
		}
		io.WriteString(w, "ok")
	})
	req, err := NewRequest(context.Background(), "POST", ts.URL, "/a", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := Do(ts.Client(), req)
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" || s.method != "POST" || s.uri != "/a?again=1" {
		t.Fatalf("%v %v %q, the server saw %+v", resp, err, body, *s)
	}
}

func TestAnswerRead(t *testing.T) {
	big := strings.Repeat("x", 3000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, big)
	zw.Close()
	ts, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sized":
			io.WriteString(w, big) // with a Content-Length
		case "/chunked":
			io.WriteString(w, big[:1000])
			w.(http.Flusher).Flush()
			io.WriteString(w, big[1000:])
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		case "/badgzip":
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "plain")
		case "/short":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "cut")
			w.(http.Flusher).Flush()
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	})
	get := func(hc *http.Client, path string) ([]byte, error) {
		req, err := NewRequest(context.Background(), "GET", ts.URL, path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := Do(hc, req)
		return b, err
	}
	// A transport that does not ask for gzip gets the answer still compressed.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(raw.CloseIdleConnections)
	for _, hc := range []*http.Client{ts.Client(), raw} {
		for _, path := range []string{"/sized", "/chunked", "/gzip"} {
			if b, err := get(hc, path); err != nil || string(b) != big {
				t.Errorf("%s: %d bytes, %v", path, len(b), err)
			}
		}
		if _, err := get(hc, "/short"); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short answer: %v", err)
		}
		if _, err := get(hc, "/badgzip"); err == nil {
			t.Error("an answer marked gzip that is not read without an error")
		}
	}
}
