package oneapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/httpcall"
)

// BasePath is the prefix of every operation's path.
const BasePath = "/api/v1/account/integrations/auth-required"

// MaxFeedBatch is the most events the feed returns in one answer.
const MaxFeedBatch = 100

// APIError is a non-2xx answer from ONe.
type APIError = apierr.Error

// Config configures a Client.
type Config struct {
	// BaseURL is the scheme and host of the API, e.g. https://api-preprod.one.unity.pl.
	BaseURL string
	// Tenant is sent as the one-tenant header.
	Tenant string
	// APIKey is sent as the ApiAuth header. It never appears in errors or logs.
	APIKey string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// UserAgent is sent with every request (default "erpconnector").
	UserAgent string
	// Transport replaces the HTTP transport (tests wrap it; nil uses a tuned default).
	Transport http.RoundTripper
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// String prints the config with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("oneapi.Config{BaseURL:%q Tenant:%q APIKey:%s Timeout:%s}", c.BaseURL, c.Tenant, redact(c.APIKey), c.Timeout)
}

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return "[REDACTED]"
}

// API calls the ONe clients API. It is safe for concurrent use. It never
// retries: a failed call returns an error for the queue to classify.
type API struct {
	hc *http.Client
	// base is the base URL (no trailing slash) and BasePath.
	base string
	// header holds the headers every request sends.
	header http.Header
	log    *slog.Logger
}

// New validates cfg and builds a client.
func New(cfg Config) (*API, error) {
	var errs []error
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL: must be an http(s) URL with a host, got %q", cfg.BaseURL))
	}
	if cfg.Tenant == "" {
		errs = append(errs, errors.New("tenant: must not be empty"))
	}
	if cfg.APIKey == "" {
		errs = append(errs, errors.New("API key: must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("oneapi: config: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "erpconnector"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		transport = t
	}
	header := http.Header{}
	header.Set("User-Agent", cfg.UserAgent)
	header.Set("Accept", "application/json")
	header.Set("one-tenant", cfg.Tenant)
	header.Set("ApiAuth", cfg.APIKey)
	return &API{
		// No cookie jar: the API is stateless.
		hc:     &http.Client{Transport: transport, Timeout: cfg.Timeout},
		base:   strings.TrimRight(cfg.BaseURL, "/") + BasePath,
		header: header,
		log:    log.With("component", "oneapi"),
	}, nil
}

// jsonContentType is the Content-Type of every request body (shared, never written).
var jsonContentType = []string{"application/json"}

// EscapeID path-escapes a client id the way the platform's examples do
// ("org:…" becomes "org%3A…").
func EscapeID(id string) string {
	return strings.ReplaceAll(url.PathEscape(id), ":", "%3A")
}

// collections are the paths that address no single record: a 404 there is
// the tenant's or the base URL's, not a record's.
var collections = map[string]bool{"/clients": true, "/users": true, "/clients/synchronization": true}

// do runs one call. body is sent as JSON when not nil; out receives the
// decoded answer when not nil. create marks outcome-unknown failures.
func (c *API) do(ctx context.Context, op, method, path string, query url.Values, body, out any, create bool) error {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apierr.Permanently(fmt.Errorf("oneapi: %s: encode body: %w", op, err))
		}
		payload = b
	}
	start := time.Now()
	resp, respBody, err := c.send(ctx, method, path, query, payload)
	if err != nil {
		c.log.DebugContext(ctx, "request failed", "op", op, "err", err, "duration", time.Since(start))
		err = fmt.Errorf("oneapi: %s: %w", op, err)
		if create && !isDialError(err) {
			return apierr.UnknownOutcome(err)
		}
		return err
	}
	status := resp.StatusCode
	c.log.DebugContext(ctx, "request", "op", op, "status", status, "duration", time.Since(start))
	if status < 200 || status > 299 {
		err := fmt.Errorf("oneapi: %w", apierr.FromResponse(op, status, resp.Header, respBody, time.Now()))
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			// The API key or the tenant: nothing about this record.
			return apierr.CredentialsRefused(err)
		}
		if status == http.StatusNotFound && collections[path] {
			// A collection (the clients, the users, the feed) the platform
			// does not know: the tenant or the base URL is wrong, whatever
			// record is at hand; the upstream waits for a fixed configuration.
			return apierr.CredentialsRefused(fmt.Errorf("%w (check one.base_url and one.tenant)", err))
		}
		return err
	}
	if out == nil {
		return nil
	}
	if err := httpcall.Decode(respBody, out); err != nil {
		err = fmt.Errorf("oneapi: %s: decode answer (%s): %w", op, apierr.Excerpt(respBody, 120), err)
		if create {
			return apierr.UnknownOutcome(err)
		}
		return apierr.Temporarily(err)
	}
	return nil
}

// send sends one request with the client's headers (and payload as JSON when
// not nil) and reads the whole answer. An error means no complete answer:
// the request failed or its answer broke off.
func (c *API) send(ctx context.Context, method, path string, query url.Values, payload []byte) (*http.Response, []byte, error) {
	req, err := httpcall.NewRequest(ctx, method, c.base, path, query, payload)
	if err != nil {
		return nil, nil, err
	}
	req.Header = httpcall.Headers(c.header, 1)
	if payload != nil {
		req.Header["Content-Type"] = jsonContentType
	}
	return httpcall.Do(c.hc, req)
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func pageQuery(pageNumber, pageSize int) url.Values {
	q := url.Values{}
	if pageNumber > 0 {
		q.Set("pageNumber", strconv.Itoa(pageNumber))
	}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	return q
}

// normalizePage fills Items from the legacy ListElement when only that is present.
func normalizePage[T any](p *Page[T]) {
	if p.Items == nil && p.ListElement != nil {
		p.Items = p.ListElement
		if p.TotalItems == 0 {
			p.TotalItems = p.TotalElement
		}
	}
}

// ListClients returns one page of clients (pages are 1-based).
func (c *API) ListClients(ctx context.Context, pageNumber, pageSize int) (*Page[Client], error) {
	var p Page[Client]
	if err := c.do(ctx, "listClients", http.MethodGet, "/clients", pageQuery(pageNumber, pageSize), nil, &p, false); err != nil {
		return nil, err
	}
	normalizePage(&p)
	return &p, nil
}

// AllClients streams every client page by page, holding one page at a time.
func (c *API) AllClients(ctx context.Context, pageSize int) iter.Seq2[Client, error] {
	return func(yield func(Client, error) bool) {
		for number := 1; ; number++ {
			p, err := c.ListClients(ctx, number, pageSize)
			if err != nil {
				yield(Client{}, err)
				return
			}
			for _, cl := range p.Items {
				if !yield(cl, nil) {
					return
				}
			}
			if p.NextPage == nil || len(p.Items) == 0 {
				return
			}
			number = int(*p.NextPage) - 1
		}
	}
}

// CreateClient creates a client. A failure whose effect is unknown (the
// connection broke after sending, or the answer was unreadable) is marked
// apierr.OutcomeUnknown: look the client up before creating it again.
func (c *API) CreateClient(ctx context.Context, w ClientWrite) (*CreateClientResponse, error) {
	var out CreateClientResponse
	if err := c.do(ctx, "createClient", http.MethodPost, "/clients", nil, w, &out, true); err != nil {
		return nil, err
	}
	if out.ClientID == "" {
		return nil, apierr.UnknownOutcome(errors.New("oneapi: createClient: answer has no clientId"))
	}
	return &out, nil
}

// GetClient returns one client in the read model.
func (c *API) GetClient(ctx context.Context, id string) (*Client, error) {
	var out Client
	if err := c.do(ctx, "getClient", http.MethodGet, "/clients/"+EscapeID(id), nil, nil, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateClient replaces a client's data with the full write model.
func (c *API) UpdateClient(ctx context.Context, id string, w ClientWrite) error {
	return c.do(ctx, "updateClient", http.MethodPut, "/clients/"+EscapeID(id), nil, w, nil, false)
}

// DeleteClient deletes a client.
func (c *API) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, "deleteClient", http.MethodDelete, "/clients/"+EscapeID(id), nil, nil, nil, false)
}

// GetAdditionalData returns a client's additional fields.
func (c *API) GetAdditionalData(ctx context.Context, id string) (*AdditionalData, error) {
	var out AdditionalData
	if err := c.do(ctx, "getClientAdditionalData", http.MethodGet, "/clients/"+EscapeID(id)+"/additional-data", nil, nil, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateAdditionalData replaces a client's additional fields.
func (c *API) UpdateAdditionalData(ctx context.Context, id string, d AdditionalDataWrite) error {
	if d.AdditionalFields == nil {
		d.AdditionalFields = map[string]AdditionalField{}
	}
	return c.do(ctx, "updateClientAdditionalData", http.MethodPut, "/clients/"+EscapeID(id)+"/additional-data", nil, d, nil, false)
}

// UpdateAdvancedData sets the account manager, segments and warehouses.
func (c *API) UpdateAdvancedData(ctx context.Context, id string, d AdvancedData) error {
	return c.do(ctx, "updateClientAdvancedData", http.MethodPut, "/clients/"+EscapeID(id)+"/advanced-data", nil, d, nil, false)
}

// UpdateBasicData sets identity, tax and billing-address data.
func (c *API) UpdateBasicData(ctx context.Context, id string, d BasicData) error {
	return c.do(ctx, "updateClientBasicData", http.MethodPut, "/clients/"+EscapeID(id)+"/basic-data", nil, d, nil, false)
}

// UpdateFinanceData sets the blockade, payment term and trade credit.
func (c *API) UpdateFinanceData(ctx context.Context, id string, d FinanceData) error {
	return c.do(ctx, "updateClientFinanceData", http.MethodPut, "/clients/"+EscapeID(id)+"/finance-data", nil, d, nil, false)
}

// GetFirstUser returns the user created together with the client.
func (c *API) GetFirstUser(ctx context.Context, id string) (*FirstUser, error) {
	var out FirstUser
	if err := c.do(ctx, "getClientFirstUser", http.MethodGet, "/clients/"+EscapeID(id)+"/first-user", nil, nil, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUsers returns one page of users.
func (c *API) ListUsers(ctx context.Context, pageNumber, pageSize int) (*Page[User], error) {
	var p Page[User]
	if err := c.do(ctx, "listUsers", http.MethodGet, "/users", pageQuery(pageNumber, pageSize), nil, &p, false); err != nil {
		return nil, err
	}
	normalizePage(&p)
	return &p, nil
}

// SyncFeed reads one batch of the client change feed from startID
// (inclusive). contexts are sent as repeated parameters; empty means the
// platform's default (all).
func (c *API) SyncFeed(ctx context.Context, startID int64, contexts []Context) (*SyncFeed, error) {
	q := url.Values{}
	q.Set("startId", strconv.FormatInt(startID, 10))
	for _, cx := range contexts {
		q.Add("contexts", string(cx))
	}
	var out SyncFeed
	if err := c.do(ctx, "getClientSyncFeed", http.MethodGet, "/clients/synchronization", q, nil, &out, false); err != nil {
		return nil, err
	}
	if out.Events == nil {
		out.Events = []SyncEvent{}
	}
	return &out, nil
}

// FeedBatch is one answer of the feed while draining it.
type FeedBatch struct {
	// StartID is the cursor the batch was read from.
	StartID int64
	// NextID is the cursor to persist once the batch is durably handled.
	NextID int64
	// Events are the batch's events, as the platform sent them.
	Events []SyncEvent
}

// Feed drains the feed from startID, one batch (at most 100 events) at a
// time, until a batch is not full. The caller handles each batch and then
// persists its NextID; stopping the loop early is safe.
func (c *API) Feed(ctx context.Context, startID int64, contexts []Context) iter.Seq2[FeedBatch, error] {
	return func(yield func(FeedBatch, error) bool) {
		cursor := startID
		for {
			f, err := c.SyncFeed(ctx, cursor, contexts)
			if err != nil {
				yield(FeedBatch{StartID: cursor, NextID: cursor}, err)
				return
			}
			if !yield(FeedBatch{StartID: cursor, NextID: f.NextID, Events: f.Events}, nil) {
				return
			}
			if len(f.Events) < MaxFeedBatch || f.NextID <= cursor {
				return
			}
			cursor = f.NextID
		}
	}
}

// CloseIdleConnections closes the client's idle keep-alive connections (on shutdown).
func (c *API) CloseIdleConnections() { c.hc.CloseIdleConnections() }
