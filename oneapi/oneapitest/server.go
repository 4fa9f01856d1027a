// Package oneapitest is an in-memory reference implementation of the ONe
// clients integration API, faithful to the project's contract
// (oneapi/openapi.yaml): authentication per tenant, validation with
// field-level errors, the dual list envelope, 404 and 409, the client
// synchronization feed with contexts, and tenant isolation.
//
// It runs in-process for tests (NewServer, wrapped in httptest.NewServer),
// standalone through `erpconnector reference`, and embedded by the demo. A
// control surface under /_reference/ (and the Go methods of Server) lets tests
// act as the storefront or back office, inject faults, read request counters
// and reset state. That surface is for tests and demos only.
package oneapitest

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/internal/atomicfile"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/internal/refhttp"
	"github.com/erpconnector/erpconnector/oneapi"
)

// BasePath is the prefix of every API path.
const BasePath = "/api/v1/account/integrations/auth-required"

// ControlPrefix is the prefix of the test-only control surface.
const ControlPrefix = "/_reference"

// MaxFeedPage is the most events one feed answer carries.
const MaxFeedPage = 100

// MaxPageSize is the largest pageSize the list operations accept.
const MaxPageSize = 1000

// Seeded reference data every tenant starts with (taken from the vendor's examples).
const (
	// DefaultAccountManagerID is the account manager a client gets when none is given.
	DefaultAccountManagerID = "4e37e1e"
	// VendorBlockadeID is the account blockade used by the vendor's finance-data example.
	VendorBlockadeID = "6bd5e564-2ef9-4cdf-909d-938c6fa40012"
	// AdministratorRoleID is the tenant-wide role of first users.
	AdministratorRoleID = "8c1a260e-c6ef-4f04-90f6-f2bf6ec520d1"
)

// Options configures a Server.
type Options struct {
	// Tenants maps tenant name (the one-tenant header) to its API key.
	Tenants map[string]string
	// Seed makes generated ids deterministic.
	Seed uint64
	// StatePath, when set, loads state from this file at start and saves it
	// (atomically) on Save and Close and periodically after changes.
	StatePath string
	// Clock replaces time.Now (outage windows).
	Clock func() time.Time
	// Logger receives request errors; nil discards.
	Logger *slog.Logger
}

// Server is the reference ONe API. It implements http.Handler.
type Server struct {
	mux    *http.ServeMux
	faults *fault.Injector
	log    *slog.Logger
	opts   Options

	mu      sync.Mutex // guards everything below
	src     *rand.PCG
	rng     *rand.Rand
	tenants map[string]*tenant
	dirty   bool

	persist *atomicfile.Saver
}

type tenant struct {
	Name      string                            `json:"name"`
	Key       string                            `json:"key"`
	Clients   map[string]*client                `json:"clients"`
	Order     []string                          `json:"order"` // client ids in creation order
	External  map[string]string                 `json:"external"`
	Users     map[string]*oneapi.User           `json:"users"`
	UserOrder []string                          `json:"userOrder"`
	Events    []event                           `json:"events"` // event id = index + 1
	Managers  map[string]oneapi.AccountManager  `json:"managers"`
	Blockades map[string]oneapi.AccountBlockade `json:"blockades"`
	Segments  map[string]string                 `json:"segments"` // segment id → external id
}

type client struct {
	ID          string             `json:"id"`
	Data        oneapi.ClientWrite `json:"data"`
	AddressID   string             `json:"addressId"`
	FirstUserID string             `json:"firstUserId,omitempty"`
	PayerID     string             `json:"payerId,omitempty"`
	BlockadeID  string             `json:"blockadeId,omitempty"`
	TradeCredit *float64           `json:"tradeCredit,omitempty"`
}

type event struct {
	ClientID string               `json:"clientId"`
	Type     oneapi.SyncEventType `json:"type"`
	Context  oneapi.Context       `json:"context"`
}

// NewServer builds a server. With StatePath set it loads the saved state
// (a missing file is fine) and starts saving changes; call Close to flush.
func NewServer(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		mux:     http.NewServeMux(),
		faults:  fault.New(opts.Seed),
		log:     log.With("component", "oneapitest"),
		opts:    opts,
		src:     rand.NewPCG(opts.Seed, opts.Seed^0x5bd1e995),
		tenants: map[string]*tenant{},
	}
	s.rng = rand.New(s.src)
	s.faults.SetClock(opts.Clock)
	for name, key := range opts.Tenants {
		if err := s.AddTenant(name, key); err != nil {
			return nil, err
		}
	}
	if opts.StatePath != "" {
		if err := s.load(opts.StatePath); err != nil {
			return nil, err
		}
		s.persist = atomicfile.StartSaver(saveInterval, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.dirty
		}, s.Save, s.log)
	}
	s.routes()
	return s, nil
}

// ServeHTTP serves the API and the control surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Faults returns the fault injector (also reachable under /_reference/faults).
func (s *Server) Faults() *fault.Injector { return s.faults }

// Close stops background saving and writes the state file one last time.
func (s *Server) Close() error {
	if s.persist == nil {
		return nil
	}
	return s.persist.Stop()
}

func newTenant(name, key string) *tenant {
	t := &tenant{
		Name: name, Key: key,
		Clients:   map[string]*client{},
		External:  map[string]string{},
		Users:     map[string]*oneapi.User{},
		Managers:  map[string]oneapi.AccountManager{},
		Blockades: map[string]oneapi.AccountBlockade{},
		Segments:  map[string]string{},
	}
	t.Managers[DefaultAccountManagerID] = oneapi.AccountManager{
		ID: DefaultAccountManagerID, Name: "Joanna Nowak", Email: "joanna.nowak@one.unity.pl",
		AdditionalEmail: "managers@one.unity.pl", MobilePhone: "111 111 111", LandlinePhone: "333 333 333",
	}
	ext := "BLK-SALE"
	t.Blockades[VendorBlockadeID] = oneapi.AccountBlockade{
		ID: VendorBlockadeID, ExternalID: &ext, Type: oneapi.BlockadeSale,
		Label: "Sale blocked", Message: "Ordering is blocked; contact your account manager.",
	}
	t.Segments["ab9e32db-48a1-47b3-9fda-975b9ed8a9d6"] = "Hurt"
	return t
}

// AddTenant adds a tenant with its API key (or replaces the key of an existing one).
func (s *Server) AddTenant(name, key string) error {
	if name == "" || key == "" {
		return fmt.Errorf("oneapitest: tenant name and key must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[name]; t != nil {
		t.Key = key
		return nil
	}
	s.tenants[name] = newTenant(name, key)
	return nil
}

// AddAccountManager registers an account manager a client may be given.
func (s *Server) AddAccountManager(tenantName string, m oneapi.AccountManager) error {
	return s.withTenant(tenantName, func(t *tenant) error {
		t.Managers[m.ID] = m
		return nil
	})
}

// AddBlockade registers an account blockade definition finance-data may name.
func (s *Server) AddBlockade(tenantName string, b oneapi.AccountBlockade) error {
	return s.withTenant(tenantName, func(t *tenant) error {
		t.Blockades[b.ID] = b
		return nil
	})
}

// Reset removes every client, user and event of every tenant, all faults and
// all counters. Tenants and their keys stay.
func (s *Server) Reset() {
	s.mu.Lock()
	for name, t := range s.tenants {
		*t = *newTenant(name, t.Key)
	}
	s.dirty = true
	s.mu.Unlock()
	s.faults.Clear()
	s.faults.ResetCounts()
}

func (s *Server) withTenant(name string, fn func(t *tenant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[name]
	if t == nil {
		return fmt.Errorf("oneapitest: no tenant %q", name)
	}
	s.dirty = true
	return fn(t)
}

// authenticate resolves the tenant of a request: 401 for a missing or unknown
// key, 403 for a key of another tenant (or an unknown tenant).
func (s *Server) authenticate(r *http.Request) (*tenant, int, string) {
	name := r.Header.Get("one-tenant")
	key := r.Header.Get("ApiAuth")
	if key == "" || name == "" {
		return nil, http.StatusUnauthorized, "missing one-tenant or ApiAuth header"
	}
	var owner *tenant
	for _, t := range s.tenants {
		if subtle.ConstantTimeCompare([]byte(t.Key), []byte(key)) == 1 {
			owner = t
		}
	}
	if owner == nil {
		return nil, http.StatusUnauthorized, "missing or invalid API key"
	}
	if owner.Name != name {
		return nil, http.StatusForbidden, "tenant not allowed for this API key"
	}
	return owner, 0, ""
}

// newUUID returns a random (seeded) version-4 UUID. Callers hold s.mu.
func (s *Server) newUUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (t *tenant) appendEvent(id string, typ oneapi.SyncEventType, ctx oneapi.Context) {
	t.Events = append(t.Events, event{ClientID: id, Type: typ, Context: ctx})
}

// Clients returns every client of a tenant in the read model, in creation order.
func (s *Server) Clients(tenantName string) []oneapi.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenantName]
	if t == nil {
		return nil
	}
	out := make([]oneapi.Client, 0, len(t.Order))
	for _, id := range t.Order {
		out = append(out, t.render(t.Clients[id]))
	}
	return out
}

// ClientCount returns how many clients a tenant has.
func (s *Server) ClientCount(tenantName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[tenantName]; t != nil {
		return len(t.Clients)
	}
	return 0
}

// Client returns one client in the read model.
func (s *Server) Client(tenantName, id string) (oneapi.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenantName]
	if t == nil {
		return oneapi.Client{}, false
	}
	c := t.Clients[id]
	if c == nil {
		return oneapi.Client{}, false
	}
	return t.render(c), true
}

// FeedLength returns the number of events in a tenant's feed (the last event id).
func (s *Server) FeedLength(tenantName string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[tenantName]; t != nil {
		return int64(len(t.Events))
	}
	return 0
}

// TenantNames returns the tenant names, sorted.
func (s *Server) TenantNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.tenants))
	for n := range s.tenants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func writeErr(w http.ResponseWriter, status int, msg string) { refhttp.WriteError(w, status, msg) }

// normalizeID accepts "org:…" and "org%3A…" (a router may hand either on).
func normalizeID(raw string) string {
	if i := strings.Index(strings.ToLower(raw), "%3a"); i >= 0 && !strings.Contains(raw, ":") {
		return raw[:i] + ":" + raw[i+3:]
	}
	return raw
}
