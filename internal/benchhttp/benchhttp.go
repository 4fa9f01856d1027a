// Package benchhttp holds what the platform clients' benchmarks share.
package benchhttp

import (
	"net/http"
	"net/http/httptest"
	"strconv"
)

// InProcess is a transport that serves Handler in memory, without a socket:
// what a benchmark times is the client's own work (building the request,
// reading and decoding the answer) and the handler's.
type InProcess struct{ Handler http.Handler }

// RoundTrip serves r with the handler and returns its answer with its length.
func (t InProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.Handler.ServeHTTP(rec, r)
	if r.Body != nil {
		_ = r.Body.Close()
	}
	resp := rec.Result()
	resp.ContentLength = int64(rec.Body.Len())
	resp.Header.Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	resp.Request = r
	return resp, nil
}
