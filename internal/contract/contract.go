// Package contract checks HTTP traffic against an OpenAPI document. Tests wrap
// a client's transport with a Validator so that every request the client sends
// and every answer a reference server gives is held to the project's copy of
// the platform's contract.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator validates requests and responses against one OpenAPI document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router

	mu       sync.Mutex
	problems []error
	seen     map[string]int // operationId → validated exchanges
}

// New loads and validates the document and builds a router that ignores the
// document's servers (any host matches).
func New(spec []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("contract: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: invalid document: %w", err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: router: %w", err)
	}
	return &Validator{doc: doc, router: router, seen: map[string]int{}}, nil
}

// Doc returns the loaded document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Operations returns every operationId of the document, sorted.
func (v *Validator) Operations() []string {
	var ops []string
	for _, item := range v.doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops = append(ops, op.OperationID)
		}
	}
	sort.Strings(ops)
	return ops
}

// Seen returns how many exchanges of each operation were validated.
func (v *Validator) Seen() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.seen))
	for k, n := range v.seen {
		out[k] = n
	}
	return out
}

// Problems returns every validation failure recorded by Transport.
func (v *Validator) Problems() []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]error(nil), v.problems...)
}

// Reset forgets recorded problems and counts.
func (v *Validator) Reset() {
	v.mu.Lock()
	v.problems = nil
	v.seen = map[string]int{}
	v.mu.Unlock()
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
}

func (v *Validator) input(req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("contract: no operation for %s %s: %w", req.Method, req.URL.Path, err)
	}
	for k, p := range params {
		if u, err := url.PathUnescape(p); err == nil {
			params[k] = u
		}
	}
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route, Options: options(),
	}, nil
}

// ValidateRequest checks one request (its body must be re-readable: it is
// read and restored).
func (v *Validator) ValidateRequest(req *http.Request) error {
	in, err := v.input(req)
	if err != nil {
		return err
	}
	body, err := readAndRestore(&req.Body)
	if err != nil {
		return err
	}
	defer func() { req.Body = io.NopCloser(bytes.NewReader(body)) }()
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		return fmt.Errorf("contract: request %s %s (%s): %w", req.Method, req.URL.Path, in.Route.Operation.OperationID, err)
	}
	return nil
}

// ValidateResponse checks one answer to req.
func (v *Validator) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	in, err := v.input(req)
	if err != nil {
		return err
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Options: options(),
	}
	rin.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		return fmt.Errorf("contract: response %d to %s %s (%s): %w", status, req.Method, req.URL.Path, in.Route.Operation.OperationID, err)
	}
	v.mu.Lock()
	v.seen[in.Route.Operation.OperationID]++
	v.mu.Unlock()
	return nil
}

// Transport returns a RoundTripper that validates every response (and, when
// checkRequests is true, every request) passing through next, recording
// problems for Problems. It never changes the traffic.
func (v *Validator) Transport(next http.RoundTripper, checkRequests bool) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{v: v, next: next, checkRequests: checkRequests}
}

type transport struct {
	v             *Validator
	next          http.RoundTripper
	checkRequests bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	if t.checkRequests {
		vreq := req.Clone(req.Context())
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
		if err := t.v.ValidateRequest(vreq); err != nil {
			t.v.record(err)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		// A broken body is the transport's story, not the contract's.
		return resp, nil
	}
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	if err := t.v.ValidateResponse(vreq, resp.StatusCode, resp.Header, body); err != nil {
		t.v.record(err)
	}
	return resp, nil
}

func (v *Validator) record(err error) {
	v.mu.Lock()
	v.problems = append(v.problems, err)
	v.mu.Unlock()
}

func readAndRestore(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(*body)
	_ = (*body).Close()
	if err != nil {
		return nil, fmt.Errorf("contract: read body: %w", err)
	}
	*body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// Join returns all problems as one error, or nil.
func (v *Validator) Join() error { return errors.Join(v.Problems()...) }

// CloseIdleConnections passes the call on to the wrapped transport.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
