// Package adminclient is the client of the admin API of a running
// erpconnector daemon. Its Client implements connector.Control over the
// API's routes, so a one-shot command is written once against
// connector.Control and works the same on a daemon as on a connector of its
// own process.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/connector"
)

// requestTimeout bounds one request but a backup download (a plan or a
// status of a large state takes a while).
const requestTimeout = 5 * time.Minute

// upTimeout bounds Up's probe of /healthz.
const upTimeout = 500 * time.Millisecond

// Client talks to the admin API at one base URL.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client of the admin API at base (e.g.
// "http://127.0.0.1:8089") that sends token as its bearer token ("" for
// none). The token appears in no error.
func New(base, token string) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), token: token, hc: &http.Client{Timeout: requestTimeout}}
}

// Base is the admin API's base URL.
func (c *Client) Base() string { return c.base }

// Up reports whether the admin API answers /healthz within half a second.
func (c *Client) Up(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Error is a request the admin API answered with an error status.
type Error struct {
	Method, Path string
	Status       int
	// Message is the API's "error" field (or its body).
	Message string
	// Err, when set, is the connector's error the status stands for
	// (connector.ErrTarget, connector.ErrPaused, queue.ErrNotFound).
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("admin API: %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// request builds a request with the headers every call carries.
func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("admin API: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	// The admin API refuses a mutating request without a JSON body or this
	// header (its guard against cross-site form posts).
	req.Header.Set(connector.RequestHeader, "1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends a request with a JSON body (nil: none) and decodes the JSON
// answer into out (nil: ignored).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return apiError(method, path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API: %s %s: %w", method, path, err)
	}
	return nil
}

// apiError reads an error answer: its "error" field, or its body.
func apiError(method, path string, status int, body []byte) *Error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body))
	}
	return &Error{Method: method, Path: path, Status: status, Message: e.Error}
}

// as gives an *Error with status the connector error it stands for.
func as(err error, status int, is error) error {
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Status == status {
		ae.Err = is
	}
	return err
}

// download streams a GET answer's body into w and fails unless all of it
// (its Content-Length) arrived.
func (c *Client) download(ctx context.Context, path string, w io.Writer) error {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	// No overall timeout: a large file takes what it takes (ctx ends it).
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return apiError(http.MethodGet, path, resp.StatusCode, b)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("admin API: GET %s: after %d bytes: %w", path, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("admin API: GET %s: %d bytes of %d", path, n, resp.ContentLength)
	}
	return nil
}
