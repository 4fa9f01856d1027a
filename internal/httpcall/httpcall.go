// Package httpcall sends one request of a platform client over plain
// net/http: both clients (oneapi, customerapi) build their requests and read
// their answers through it, so the two send and read alike.
//
// It keeps what the clients' former resty setup did on the wire: the path
// joined to the base URL as is, the query encoded by url.Values.Encode, no
// body on GET, HEAD or OPTIONS, the whole answer read without a size limit,
// and an answer still marked Content-Encoding: gzip decompressed.
package httpcall

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	gojson "github.com/goccy/go-json"
)

// NewRequest builds a request for base+path with query (sorted by key, as
// url.Values.Encode does) and body (nil for none). A body is not sent with
// GET, HEAD or OPTIONS. Another method without a body sends an empty one of
// unknown length: a POST, PUT or PATCH goes chunked, a DELETE without any
// (as the clients always have sent them).
func NewRequest(ctx context.Context, method, base, path string, query url.Values, body []byte) (*http.Request, error) {
	var rd io.Reader
	if payloadAllowed(method) {
		if body != nil {
			rd = bytes.NewReader(body)
		} else {
			rd = emptyBody{}
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd == (emptyBody{}) {
		// Replayable, like any body here: a 307 or 308 redirect sends it again.
		req.GetBody = func() (io.ReadCloser, error) { return emptyBody{}, nil }
	}
	if len(query) > 0 {
		if q := query.Encode(); q != "" {
			if req.URL.RawQuery == "" {
				req.URL.RawQuery = q
			} else {
				req.URL.RawQuery += "&" + q
			}
		}
	}
	return req, nil
}

// emptyBody is a body with nothing in it that the transport cannot tell
// empty before reading it.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

func payloadAllowed(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// Headers copies fixed into a new header map for one request. The value
// slices are shared, never written: set a per-request header with Set or a
// fresh slice.
func Headers(fixed http.Header, extra int) http.Header {
	h := make(http.Header, len(fixed)+extra)
	for k, v := range fixed {
		h[k] = v
	}
	return h
}

// Do sends req and reads the whole answer. An error is the client's (the
// request not sent, no answer) or the body's (the answer broke off); the
// answer's body is closed either way.
func Do(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return resp, nil, err
	}
	return resp, body, nil
}

// maxPrealloc bounds the buffer sized from Content-Length before reading: a
// larger answer still reads whole, growing as it arrives.
const maxPrealloc = 1 << 20

func readBody(resp *http.Response) ([]byte, error) {
	var r io.Reader = resp.Body
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") && resp.ContentLength != 0 {
		// The transport decompresses only what it asked for; an answer
		// compressed anyway arrives marked and is decompressed here.
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	if n := resp.ContentLength; n > 0 && n <= maxPrealloc {
		// One allocation for a body of known length (io.ReadAll grows from 512 bytes).
		buf := bytes.NewBuffer(make([]byte, 0, int(n)+bytes.MinRead))
		if _, err := buf.ReadFrom(r); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return io.ReadAll(r)
}

// Decode decodes a JSON answer into out with github.com/goccy/go-json: the
// same rules as encoding/json (unknown fields ignored, keys matched without
// regard to case, UnmarshalJSON methods called), about four times faster on
// a listing page of clients (a resync decodes every platform record once).
func Decode(body []byte, out any) error {
	return gojson.Unmarshal(body, out)
}
