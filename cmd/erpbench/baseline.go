package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// The baselines are raw keep-alive HTTP loops at the connector's
// concurrency, against a fresh server of their own, with the bodies
// encoded before the clock starts. The "same" baselines send, for every
// record, exactly the requests the connector's create path sends:
//
//   - ONe (connector/one Create): POST /clients with the client, then,
//     when the customer has finance data (a blockade, a payment term, or a
//     trade credit for a company: trade credit cannot be set on create),
//     PUT /clients/{id}/finance-data;
//   - the Customer API (connector/customerapi Create): POST
//     /v1/organisations, then, for a farm, POST /v1/business-units with
//     the farm business unit in the new organisation; after one login.
//
// The per-run requests the connector makes besides (the feed poll, the
// Customer API's listing walk, the certificate look-ups) are not sent:
// the requests_by_operation of the connector's run show them.

// bytesReader is b as a request body (nil for none).
func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// eachERPCustomer reads the bench ERP through the demo layout and calls fn
// with every customer, in the connector's change order.
func eachERPCustomer(ctx context.Context, path string, fn func(key string, c mapping.Customer) error) error {
	t, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", path, erpTable), nil)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer t.Close()
	for cursor := ""; ; {
		page, err := t.Changes(ctx, cursor, 1000)
		if err != nil {
			return fmt.Errorf("baseline: read erp: %w", err)
		}
		for _, it := range page.Items {
			if it.Err != nil {
				return fmt.Errorf("baseline: erp row %q: %w", it.Key, it.Err)
			}
			c := it.Customer
			c.ERPKey = it.Key
			if err := fn(it.Key, c); err != nil {
				return err
			}
		}
		cursor = page.Cursor
		if !page.More || len(page.Items) == 0 {
			return nil
		}
	}
}

// oneBodies are the ONe requests of every record: the create bodies and,
// where the customer has finance data, the finance bodies (nil where not).
type oneBodies struct {
	create, finance [][]byte
}

// prepayloads reads the ERP through sqlerp and maps every customer to its
// ONe create and finance bodies, ready to send.
func prepayloads(ctx context.Context, path string, n int) (oneBodies, error) {
	b := oneBodies{create: make([][]byte, 0, n), finance: make([][]byte, 0, n)}
	err := eachERPCustomer(ctx, path, func(key string, c mapping.Customer) error {
		cb, err := json.Marshal(mapping.ToONeWrite(c))
		if err != nil {
			return fmt.Errorf("baseline: encode %q: %w", key, err)
		}
		var fb []byte
		if fin := mapping.ToONeFinance(c); fin != (oneapi.FinanceData{}) {
			if fb, err = json.Marshal(fin); err != nil {
				return fmt.Errorf("baseline: encode %q: %w", key, err)
			}
		}
		b.create, b.finance = append(b.create, cb), append(b.finance, fb)
		return nil
	})
	if err != nil {
		return b, err
	}
	if len(b.create) != n {
		return b, fmt.Errorf("baseline: %w: read %d customers from the ERP, want %d", errCheck, len(b.create), n)
	}
	return b, nil
}

// baselineRun is what a raw loop measured.
type baselineRun struct {
	wall      time.Duration
	requests  int64
	throttled int64
}

// oneAuth sets the ONe tenant's credentials.
func oneAuth(key string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("one-tenant", benchTenant)
		r.Header.Set("ApiAuth", key)
	}
}

// oneSameLoop is the ONe "same" baseline: per record the create and, with
// finance data, the finance PUT to the id the create answered.
func oneSameLoop(ctx context.Context, base, key string, b oneBodies, c int, u upstreamOptions) (baselineRun, error) {
	l := newRawLoop(c, u, oneAuth(key))
	defer l.close()
	api := base + oneapitest.BasePath + "/clients"
	start := time.Now()
	err := parallel(ctx, len(b.create), c, func(ctx context.Context, i int) error {
		var resp oneapi.CreateClientResponse
		if err := l.do(ctx, http.MethodPost, api, b.create[i], http.StatusOK, &resp); err != nil {
			return err
		}
		if b.finance[i] == nil {
			return nil
		}
		if resp.ClientID == "" {
			return fmt.Errorf("POST %s: answer without clientId", api)
		}
		return l.do(ctx, http.MethodPut, api+"/"+oneapi.EscapeID(resp.ClientID)+"/finance-data", b.finance[i], http.StatusOK, nil)
	})
	if err != nil {
		return baselineRun{}, fmt.Errorf("baseline: %w", err)
	}
	return baselineRun{wall: time.Since(start), requests: l.requests.Load(), throttled: l.throttled.Load()}, nil
}

// postLoop is the POST-only ONe baseline: c goroutines POSTing the create
// bodies over keep-alive connections (no finance data).
func postLoop(ctx context.Context, base, key string, bodies [][]byte, c int, u upstreamOptions) (baselineRun, error) {
	l := newRawLoop(c, u, oneAuth(key))
	defer l.close()
	url := base + oneapitest.BasePath + "/clients"
	start := time.Now()
	err := parallel(ctx, len(bodies), c, func(ctx context.Context, i int) error {
		return l.do(ctx, http.MethodPost, url, bodies[i], http.StatusOK, nil)
	})
	if err != nil {
		return baselineRun{}, fmt.Errorf("baseline: %w", err)
	}
	return baselineRun{wall: time.Since(start), requests: l.requests.Load(), throttled: l.throttled.Load()}, nil
}

// orgPlaceholder stands for the new organisation's id in the encoded farm
// business unit bodies (replaced before sending).
const orgPlaceholder = "ERPBENCH-ORGANISATION-ID"

// capiBodies are the Customer API requests of every record: the
// organisation and, for a farm, the farm business unit (nil where not)
// with orgPlaceholder for its organisation.
type capiBodies struct {
	org, farm [][]byte
}

// capiPayloads reads the ERP and maps every customer to its Customer API
// create bodies.
func capiPayloads(ctx context.Context, path string, n int) (capiBodies, error) {
	b := capiBodies{org: make([][]byte, 0, n), farm: make([][]byte, 0, n)}
	err := eachERPCustomer(ctx, path, func(key string, c mapping.Customer) error {
		ob, err := json.Marshal(mapping.ToCustomerAPIOrganisation(c))
		if err != nil {
			return fmt.Errorf("baseline: encode %q: %w", key, err)
		}
		var fb []byte
		c.PlatformIDs.CustomerAPI = orgPlaceholder
		if req, ok := mapping.ToCustomerAPIFarm(c); ok {
			if fb, err = json.Marshal(req); err != nil {
				return fmt.Errorf("baseline: encode %q: %w", key, err)
			}
		}
		b.org, b.farm = append(b.org, ob), append(b.farm, fb)
		return nil
	})
	if err != nil {
		return b, err
	}
	if len(b.org) != n {
		return b, fmt.Errorf("baseline: %w: read %d customers from the ERP, want %d", errCheck, len(b.org), n)
	}
	return b, nil
}

// capiToken is the bench user's access token for a raw loop, taken again
// after a 401.
type capiToken struct {
	base, user, password string
	hc                   *http.Client
	mu                   sync.Mutex
	access               string
}

// login takes a fresh access token.
func (t *capiToken) login(ctx context.Context) error {
	body, err := json.Marshal(map[string]string{"username": t.user, "password": t.password})
	if err != nil {
		return err
	}
	var out struct {
		Tokens *struct {
			Access string `json:"access"`
		} `json:"tokens"`
	}
	if err := send(ctx, t.hc, http.MethodPost, t.base+"/v1/auth/login", "", body, http.StatusOK, &out); err != nil {
		return fmt.Errorf("baseline: login: %w", err)
	}
	if out.Tokens == nil || out.Tokens.Access == "" {
		return fmt.Errorf("baseline: login: %w: no access token", errCheck)
	}
	t.mu.Lock()
	t.access = out.Tokens.Access
	t.mu.Unlock()
	return nil
}

func (t *capiToken) auth(r *http.Request) {
	t.mu.Lock()
	r.Header.Set("Authorization", "Bearer "+t.access)
	t.mu.Unlock()
}

// capiSameLoop is the Customer API "same" baseline: one login, then per
// record the organisation and, for a farm, its farm business unit.
func capiSameLoop(ctx context.Context, base, password string, b capiBodies, c int, u upstreamOptions) (baselineRun, error) {
	tok := &capiToken{base: base, user: benchUser, password: password, hc: newHTTPClient(1)}
	defer tok.hc.CloseIdleConnections()
	l := newRawLoop(c, u, tok.auth)
	defer l.close()
	start := time.Now()
	if err := tok.login(ctx); err != nil {
		return baselineRun{}, err
	}
	err := parallel(ctx, len(b.org), c, func(ctx context.Context, i int) error {
		var org struct {
			ID string `json:"id"`
		}
		if err := l.do(ctx, http.MethodPost, base+"/v1/organisations", b.org[i], http.StatusOK, &org); err != nil {
			return err
		}
		if b.farm[i] == nil {
			return nil
		}
		if org.ID == "" || strings.Contains(org.ID, `"`) {
			return fmt.Errorf("POST /v1/organisations: answer without a usable id %q", org.ID)
		}
		body := bytes.Replace(b.farm[i], []byte(orgPlaceholder), []byte(org.ID), 1)
		return l.do(ctx, http.MethodPost, base+"/v1/business-units", body, http.StatusOK, nil)
	})
	if err != nil {
		return baselineRun{}, fmt.Errorf("baseline: %w", err)
	}
	// The login is one of the loop's requests.
	return baselineRun{wall: time.Since(start), requests: l.requests.Load() + 1, throttled: l.throttled.Load()}, nil
}
