package customerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/httpcall"
)

// Version is the default version in the User-Agent header.
const Version = "dev"

// Credentials are how the client logs in: Username and Password (with
// NewPassword answering a NEW_PASSWORD_REQUIRED challenge), or an APIToken.
// Their values never appear in logs, errors or %v output.
type Credentials struct {
	Username string
	Password string
	// NewPassword answers the NEW_PASSWORD_REQUIRED challenge of a user
	// created with a temporary password; afterwards it is the password.
	NewPassword string
	// APIToken, when set, is used instead of Username/Password.
	APIToken string
}

// String redacts the secrets.
func (c Credentials) String() string {
	if c.APIToken != "" {
		return "customerapi.Credentials{APIToken: redacted}"
	}
	return "customerapi.Credentials{Username: " + c.Username + ", Password: redacted}"
}

// GoString redacts the secrets.
func (c Credentials) GoString() string { return c.String() }

// Options configure a Client.
type Options struct {
	// BaseURL is the API root, e.g. "https://customers.example.com" (paths start with /v1).
	BaseURL string
	// Credentials log the client in.
	Credentials Credentials
	// HTTPClient is the transport to use; nil means a fresh http.Client.
	// New sets its Timeout, clears its cookie jar, and gives it a transport
	// when it has none.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request; 0 means 30 seconds.
	Timeout time.Duration
	// RefreshBefore is how long before expiry a token is refreshed; 0 means
	// 10% of its lifetime, at most one minute.
	RefreshBefore time.Duration
	// Version goes into the User-Agent "erpconnector/<version>".
	Version string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// Client calls the Customer API. It is safe for concurrent use.
type Client struct {
	hc *http.Client
	// base is the base URL without a trailing slash.
	base string
	// header holds the headers every request sends.
	header http.Header
	log    *slog.Logger
	now    func() time.Time
	tokens *TokenSource
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("customerapi: new: base URL is required")
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("customerapi: new: base URL %q must be an absolute http(s) URL", opts.BaseURL)
	}
	if opts.Credentials.APIToken == "" && (opts.Credentials.Username == "" || opts.Credentials.Password == "") {
		return nil, errors.New("customerapi: new: credentials need a username and password, or an ApiToken")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Version == "" {
		opts.Version = Version
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "customerapi")
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	if hc.Transport == nil {
		hc.Transport = defaultTransport()
	}
	hc.Jar = nil // the API is stateless: no cookie is kept or sent back
	hc.Timeout = opts.Timeout
	header := http.Header{}
	header.Set("User-Agent", "erpconnector/"+opts.Version)
	header.Set("Accept", "application/json")
	c := &Client{hc: hc, base: strings.TrimRight(opts.BaseURL, "/"), header: header, log: log, now: now}
	c.tokens = newTokenSource(c, opts.Credentials, opts.RefreshBefore)
	return c, nil
}

// defaultTransport is http.DefaultTransport keeping an idle connection for
// each processor (and one more) per host.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = runtime.GOMAXPROCS(0) + 1
	return t
}

// Tokens returns the client's token source.
func (c *Client) Tokens() *TokenSource { return c.tokens }

// request describes one call.
type request struct {
	op     string
	method string
	path   string
	query  url.Values
	body   any
	// auth sends the bearer token and retries once after a 401.
	auth bool
	// multipart, when set, is sent instead of body.
	multipart *multipartBody
}

type multipartBody struct {
	fields map[string]string
	files  []multipartFile
}

type multipartFile struct {
	name string
	data []byte
}

// call performs r and decodes a 2xx body into out (nil to ignore it).
func (c *Client) call(ctx context.Context, r request, out any) error {
	body, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := httpcall.Decode(body, out); err != nil {
		return fmt.Errorf("customerapi: %s: decode response: %w", r.op, apierr.Temporarily(err))
	}
	return nil
}

// send performs r and returns the 2xx body.
func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	var payload []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("customerapi: %s: encode request: %w", r.op, apierr.Permanently(err))
		}
		payload = b
	}
	token := ""
	if r.auth {
		t, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("customerapi: %s: %w", r.op, err)
		}
		token = t
	}
	resp, err := c.do(ctx, r, payload, token)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusUnauthorized && r.auth {
		// The token was refused: get a fresh one (one refresh for every
		// request that saw the same token) and try exactly once more.
		c.log.DebugContext(ctx, "token refused, refreshing", "op", r.op)
		c.tokens.Invalidate(token)
		t, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("customerapi: %s: %w", r.op, err)
		}
		resp, err = c.do(ctx, r, payload, t)
		if err != nil {
			return nil, err
		}
	}
	if resp.status < 200 || resp.status > 299 {
		e := apierr.FromResponse(r.op, resp.status, resp.header, resp.body, c.now())
		if resp.status == http.StatusUnauthorized && r.auth {
			// Refused even with a fresh token.
			return nil, apierr.CredentialsRefused(fmt.Errorf("customerapi: %w", e))
		}
		return nil, fmt.Errorf("customerapi: %w", e)
	}
	return resp.body, nil
}

// response is one complete answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

var jsonContentType = []string{"application/json"}

// do sends one request and reads its whole answer; an error means no
// complete answer.
func (c *Client) do(ctx context.Context, r request, payload []byte, token string) (*response, error) {
	resp, err := c.roundTrip(ctx, r, payload, token)
	if err != nil {
		if ctx.Err() != nil {
			err := fmt.Errorf("customerapi: %s: %w", r.op, ctx.Err())
			if r.method != http.MethodGet {
				// Cancelled (a stop) while a write may have been on its way:
				// it is looked up before it is repeated.
				return nil, apierr.UnknownOutcome(err)
			}
			return nil, err
		}
		err = scrub(err)
		var oe *net.OpError
		if r.method != http.MethodGet && !(errors.As(err, &oe) && oe.Op == "dial") {
			// The request may have reached the platform: a write must be
			// looked up before it is repeated.
			return nil, fmt.Errorf("customerapi: %s: %w", r.op, apierr.UnknownOutcome(err))
		}
		return nil, fmt.Errorf("customerapi: %s: %w", r.op, err)
	}
	return resp, nil
}

func (c *Client) roundTrip(ctx context.Context, r request, payload []byte, token string) (*response, error) {
	var contentType []string
	switch {
	case r.multipart != nil:
		if r.method != http.MethodPost && r.method != http.MethodPut && r.method != http.MethodPatch {
			return nil, fmt.Errorf("multipart content is not allowed in HTTP verb [%v]", r.method)
		}
		b, ct, err := r.multipart.encode()
		if err != nil {
			return nil, err
		}
		payload, contentType = b, []string{ct}
	case payload != nil:
		contentType = jsonContentType
	}
	req, err := httpcall.NewRequest(ctx, r.method, c.base, r.path, r.query, payload)
	if err != nil {
		return nil, err
	}
	req.Header = httpcall.Headers(c.header, 2)
	if contentType != nil {
		req.Header["Content-Type"] = contentType
	}
	if token != "" {
		req.Header["Authorization"] = []string{strings.TrimSpace("Bearer " + token)}
	}
	resp, body, err := httpcall.Do(c.hc, req)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// encode writes the form: the fields (by name), then each file as a part
// named "file" whose Content-Type is sniffed from its first 512 bytes.
func (m *multipartBody) encode() ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	names := make([]string, 0, len(m.fields))
	for k := range m.fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if err := w.WriteField(k, m.fields[k]); err != nil {
			return nil, "", err
		}
	}
	for _, f := range m.files {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, "file", quoteEscaper.Replace(f.name)))
		h.Set("Content-Type", http.DetectContentType(f.data[:min(len(f.data), 512)]))
		part, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(f.data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// scrub drops the query string from url.Error so no parameter leaks into logs.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			u.User = nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
