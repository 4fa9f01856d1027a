// Package customerapitest is a reference server for the Customer API: every
// operation of the project's contract (customerapi.OpenAPISpec) at its path,
// with bearer tokens that expire, refresh tokens, the NEW_PASSWORD_REQUIRED
// login challenge, ApiTokens with hours and roles, organisation isolation,
// validation with field errors, seeded Red Tractor certificates, CSV imports
// and business connections. A control surface under /_reference/ (and a Go
// API on *Server) lets tests read codes the platform would send by email or
// WhatsApp, add users, change the token lifetime, inject faults and read
// request counters.
//
// With Options.StatePath the server keeps its data in a file across restarts
// (see Open, Save and Close). The control surface also carries the
// platform-administrator actions tests need: SetOrganisationStatus and
// DeleteOrganisation (PUT /_reference/organisations/{id}/status, DELETE
// /_reference/organisations/{id}).
//
// Access rules: a caller sees and changes its own organisation, the
// organisations it created (it manages them) and the organisations connected
// to it; platform administrators (role "admin") see every organisation. An
// unknown id answers 404; a known id outside the caller's reach answers 403,
// as does a token whose roles do not allow the operation. Roles: "owner"
// (team owner: manages users and tokens), "member" (reads and writes
// records), "readonly" (reads only), "admin" (platform administrator).
package customerapitest

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/atomicfile"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/internal/refhttp"
)

// Options configure a Server.
type Options struct {
	// Users maps email to password; each such user owns a seeded organisation
	// (role "owner").
	Users map[string]string
	// Admins maps email to password for platform administrators (role "admin").
	Admins map[string]string
	// Seed makes ids, tokens and seeded data deterministic.
	Seed uint64
	// TokenTTL is the access-token lifetime; 0 means one hour.
	TokenTTL time.Duration
	// Certificates is how many Red Tractor certificates to seed; 0 means 60.
	Certificates int
	// StatePath, when set, loads the saved state from this file at start (a
	// missing file is fine) and saves it atomically (temp file, fsync,
	// rename) on Save and Close and periodically after changes: organisations,
	// business units and businesses, users with their passwords, sessions,
	// refresh tokens and ApiTokens, certificates, sent codes and the position
	// of the id generator, so ids never repeat after a restart. TokenTTL and
	// the fault injector's rules and counters are not saved. Users and Admins
	// keep their configured passwords; configured users missing from the file
	// are added. The file holds passwords and tokens in clear text (mode 0600):
	// it is for tests and demos only.
	StatePath string
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Logger receives request logs; nil discards them.
	Logger *slog.Logger
}

// Server is the reference Customer API. It implements http.Handler and is
// safe for concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	faults *fault.Injector
	mux    *http.ServeMux
	ops    []route
	now    func() time.Time

	mu    sync.Mutex
	st    *state
	dirty bool // changed since the last save; guarded by mu

	saveMu  sync.Mutex // serialises writes of the state file
	persist *atomicfile.Saver
}

// NewServer returns a seeded Server. With Options.StatePath it loads the
// saved state like Open and panics if the file exists but cannot be read;
// use Open to handle that error. Call Close to write the state file a last
// time.
func NewServer(opts Options) *Server {
	s, err := Open(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Open returns a seeded Server; with Options.StatePath set it first loads the
// saved state (a missing file is fine) and then saves changes in the
// background until Close.
func Open(opts Options) (*Server, error) {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Certificates <= 0 {
		opts.Certificates = 60
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	s := &Server{opts: opts, log: log.With("component", "customerapitest"), now: now}
	s.faults = fault.New(opts.Seed)
	s.faults.SetClock(now)
	s.mux = http.NewServeMux()
	s.st = s.seed()
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

// Close stops background saving and writes the state file one last time. It
// does nothing without Options.StatePath. The server keeps answering after
// Close, but later changes are saved only by Save.
func (s *Server) Close() error {
	if s.persist == nil {
		return nil
	}
	return s.persist.Stop()
}

// ServeHTTP serves the API and the control surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			refhttp.WriteError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Faults returns the fault injector (rules and request counters per operation id).
func (s *Server) Faults() *fault.Injector { return s.faults }

// Operations lists the operation ids the server serves, sorted.
func (s *Server) Operations() []string {
	out := make([]string, 0, len(s.ops))
	for _, rt := range s.ops {
		out = append(out, rt.op)
	}
	sort.Strings(out)
	return out
}

func writeErr(w http.ResponseWriter, status int, message string) {
	refhttp.WriteError(w, status, message)
}

// Code is a message the platform would send by email, WhatsApp or Slack.
type Code struct {
	// To is the recipient (an email address, or "slack").
	To string `json:"to"`
	// Kind is what the code is for: temporary-password, reset-password,
	// signup, verify-attribute, magic-link, welcome, module-request.
	Kind string `json:"kind"`
	// Code is the secret or identifier the recipient would use.
	Code string `json:"code,omitempty"`
	// Text is the message text.
	Text string `json:"text,omitempty"`
	// At is when it was sent.
	At time.Time `json:"at"`
}

// ReadCodes returns the messages sent to email (case-insensitive), oldest first.
func (s *Server) ReadCodes(email string) []Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Code
	for _, c := range s.st.outbox {
		if strings.EqualFold(c.To, email) {
			out = append(out, c)
		}
	}
	return out
}

// LastCode returns the newest code of kind sent to email, or "".
func (s *Server) LastCode(email, kind string) string {
	codes := s.ReadCodes(email)
	for i := len(codes) - 1; i >= 0; i-- {
		if codes[i].Kind == kind {
			return codes[i].Code
		}
	}
	return ""
}

// SetTokenTTL changes the lifetime of access tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.st.tokenTTL = d
	s.mu.Unlock()
}

// UserSpec describes a user to add through the control API.
type UserSpec struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Roles default to ["owner"] for a user with a new organisation and ["member"] otherwise.
	Roles []string `json:"roles,omitempty"`
	// OrganisationID places the user in an existing organisation; empty
	// seeds a new organisation the user owns.
	OrganisationID string `json:"organisationId,omitempty"`
	// Temporary makes Password a temporary password: the first login meets
	// the NEW_PASSWORD_REQUIRED challenge.
	Temporary bool `json:"temporary,omitempty"`
	// BusinessUnits restricts the business units the user may see.
	BusinessUnits []string `json:"businessUnits,omitempty"`
}

// AddUser adds a user and returns its id and organisation id.
func (s *Server) AddUser(spec UserSpec) (userID, organisationID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	userID, organisationID, err = s.st.addUser(spec)
	if err == nil {
		s.dirty = true
	}
	return userID, organisationID, err
}

// Reset drops every change and re-seeds the server from its options; rules
// and counters of the fault injector are cleared too.
func (s *Server) Reset() {
	st := s.seed()
	s.mu.Lock()
	s.st = st
	s.dirty = true
	s.mu.Unlock()
	s.faults.Clear()
	s.faults.ResetCounts()
}

// Certificates returns the seeded Red Tractor certificates.
func (s *Server) Certificates() []customerapi.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]customerapi.Certificate(nil), s.st.certs...)
}

// AddCertificates adds Red Tractor certificates to the searchable set (as
// the certification body would publish them). A certificate whose
// CertificateIdentifier is already published replaces that one, so
// publishing the same certificates again (say, at every start of a server
// that keeps its state) does not duplicate them.
func (s *Server) AddCertificates(certs ...customerapi.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range certs {
		if i, found := s.st.certIdx.byID[c.CertificateIdentifier]; found && c.CertificateIdentifier != "" {
			s.st.putCert(i, c)
			continue
		}
		s.st.putCert(len(s.st.certs), c)
	}
	s.dirty = true
}

// OrganisationID returns the id of the organisation owned by the user with email.
func (s *Server) OrganisationID(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.st.userByEmail(email); u != nil {
		return u.orgID
	}
	return ""
}

// UserID returns the id of the user with email.
func (s *Server) UserID(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.st.userByEmail(email); u != nil {
		return u.id
	}
	return ""
}

// SystemSettings returns the logging settings last set through updateSystemSettings.
func (s *Server) SystemSettings() (level, filter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.logLevel, s.st.logFilter
}

// FullAccountRequests returns the full-account requests received.
func (s *Server) FullAccountRequests() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.st.fullAccountRequests...)
}

// AddOrganisations adds n organisations owned by the organisation of
// ownerEmail's user (it manages them), for load tests. It returns their ids.
func (s *Server) AddOrganisations(ownerEmail string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByEmail(ownerEmail)
	if u == nil {
		return nil
	}
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		o := s.st.newOrg(fmt.Sprintf("Farm %05d", i), "GB", fmt.Sprintf("FC%06d", i))
		o.managedBy = u.orgID
		ids = append(ids, o.id)
	}
	s.dirty = s.dirty || n > 0
	return ids
}

func newRand(seed uint64) *rand.Rand { return rand.New(newPCG(seed)) }

func newPCG(seed uint64) *rand.PCG { return rand.NewPCG(seed, seed^0x5851f42d4c957f2d) }
