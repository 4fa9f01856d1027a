package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/erpconnector/erpconnector/queue"
)

// AdminOptions configure the admin HTTP API.
type AdminOptions struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every route but /healthz and /readyz.
	Token string
	// Gatherer serves /metrics (nil: no metrics route).
	Gatherer prometheus.Gatherer
	// Listen is the configured listen address (admin.listen, e.g.
	// 127.0.0.1:8089 or 0.0.0.0:8089); its host is accepted in the Host
	// header.
	Listen string
	// AllowedHosts are further names accepted in the Host header: "name"
	// (any port) or "name:port", e.g. a DNS name the API is reached under
	// without a token. "*" accepts any Host (the DNS-rebinding guard off).
	AllowedHosts []string
}

// RequestHeader is the header (with the value "1") that marks a mutating
// admin request as made by a program rather than a web page, when it has no
// JSON body to carry Content-Type: application/json. The command line sends
// it on every request.
const RequestHeader = "X-Erpconnector-Request"

// AdminHandler serves the operator API:
//
//	GET  /healthz                  the process is up
//	GET  /readyz                   200 once the state is open and each upstream's first poll succeeded
//	GET  /metrics                  Prometheus metrics
//	GET  /api/v1/status            the status snapshot
//	POST /api/v1/sync              run the scans and the feed poll now (202)
//	GET  /api/v1/plan              what a sync would do on each platform, without doing it (?platform=one|customer_api|all)
//	POST /api/v1/resync            start (or resume) a full resync (202; ?target=one|customer_api|all)
//	GET  /api/v1/resync            resync progress
//	POST /api/v1/pause, /resume    stop and restart scheduled runs
//	GET  /api/v1/dlq               dead letters (?type=&after=&limit=)
//	GET  /api/v1/dlq/{id}          one dead letter with its payload and history
//	POST /api/v1/dlq/replay        replay dead letters ({"ids":[…]} or {"type":…}; {} replays all)
//	POST /api/v1/dlq/purge         purge dead letters (same filter)
//	GET  /api/v1/trace/{key}       the trail of one ERP customer (Trace; 404 when the state holds nothing of it)
//	GET  /api/v1/state/check       check the state file while the connector works (StateCheck)
//	GET  /api/v1/state/backup      a consistent copy of the state file (application/octet-stream)
//	GET  /api/v1/cursors           every cursor
//	PUT  /api/v1/cursors/{name}    set a cursor by hand ({"value":"…"}), logged
//	GET  /                         the status page (HTML; page.go), with its forms under /ui/
//
// Browser protections. The API has no token by default (it then listens on
// loopback only), so a web page the operator opens must not be able to use
// it, neither by a cross-site request nor by DNS rebinding:
//
//   - Host. A request is refused (403) unless its Host header names
//     localhost, a loopback address (127.0.0.0/8, ::1), the address the
//     connection arrived on, the host of opts.Listen, or one of
//     opts.AllowedHosts; the port is not compared (kubectl port-forward and
//     other tunnels keep their own). A rebinding page can only send its own
//     name, which is none of these. A request that carries the bearer
//     token is not Host-checked: a web page cannot send the token, and a
//     token-protected API is reached under names (a Kubernetes Service)
//     that cannot all be listed. /healthz and /readyz are Host-checked too:
//     a Kubernetes probe connects to the pod IP with Host set to that
//     pod IP:port, which is the address the connection arrived on, so
//     probes pass; a probe that sets its own Host header needs that name
//     in AllowedHosts.
//   - Mutating methods (anything but GET, HEAD and OPTIONS) need
//     Content-Type: application/json or the header X-Erpconnector-Request: 1
//     (415 otherwise): a web page can send neither cross-site without a CORS
//     preflight, which this API never grants. They also need a same-origin
//     or absent Origin, and a Sec-Fetch-Site of same-origin or none when
//     present (403 otherwise; http.CrossOriginProtection).
//   - POST /api/v1/dlq/purge needs a JSON body: {} purges every dead
//     letter, an empty body is refused.
func (c *Connector) AdminHandler(opts AdminOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := c.Readiness()
		status := http.StatusOK
		if !rd.Ready {
			status = http.StatusServiceUnavailable
		}
		body := map[string]any{"ready": rd.Ready, "upstreams": rd.Upstreams}
		if len(rd.Reasons) > 0 {
			body["reasons"] = rd.Reasons // why an upstream is not ready, for the operator
		}
		writeJSON(w, status, body)
	})
	auth := authed(func(h http.HandlerFunc) http.Handler { return requireToken(opts.Token, h) })
	if opts.Gatherer != nil {
		mux.Handle("GET /metrics", requireToken(opts.Token, promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	}
	c.adminRuns(mux, auth)
	c.adminDeadLetters(mux, auth)
	c.adminCursors(mux, auth)
	c.adminTrace(mux, auth)
	mux.Handle("GET /api/v1/state/", requireToken(opts.Token, c.StateHandler()))
	return c.withPage(opts, newAdminGuard(opts, mux))
}

// adminRuns serves status, sync, plan, resync, pause and resume.
func (c *Connector) adminRuns(mux *http.ServeMux, auth authed) {
	mux.Handle("GET /api/v1/status", auth(func(w http.ResponseWriter, r *http.Request) {
		st, err := c.Status(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}))
	mux.Handle("POST /api/v1/sync", auth(func(w http.ResponseWriter, r *http.Request) {
		if err := c.startSync(); err != nil {
			writeError(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
	}))
	mux.Handle("GET /api/v1/plan", auth(func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		rep, err := c.PlanTarget(r.Context(), r.URL.Query().Get("platform"), limit)
		switch {
		case errors.Is(err, ErrTarget):
			writeError(w, http.StatusBadRequest, err)
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
	mux.Handle("POST /api/v1/resync", auth(func(w http.ResponseWriter, r *http.Request) {
		if err := c.startResync(r.URL.Query().Get("target")); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
	}))
	mux.Handle("GET /api/v1/resync", auth(func(w http.ResponseWriter, r *http.Request) {
		m, err := c.ResyncProgress(r.Context())
		if errors.Is(err, queue.ErrNotFound) {
			writeJSON(w, http.StatusOK, map[string]any{"started": false})
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": m.Name, "started": true, "done": m.Done(),
			"progress": m.Progress(), "migration": m})
	}))
	for path, paused := range map[string]bool{"/api/v1/pause": true, "/api/v1/resume": false} {
		mux.Handle("POST "+path, auth(func(w http.ResponseWriter, r *http.Request) {
			if err := c.SetPaused(r.Context(), paused); err != nil {
				writeError(w, http.StatusInternalServerError, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]bool{"paused": paused})
		}))
	}
}

// adminDeadLetters serves the dead-letter routes.
func (c *Connector) adminDeadLetters(mux *http.ServeMux, auth authed) {
	mux.Handle("GET /api/v1/dlq", auth(c.listDeadLetters))
	mux.Handle("GET /api/v1/dlq/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, errors.New("id: want a job id"))
			return
		}
		d, err := c.DeadLetter(r.Context(), id)
		if errors.Is(err, queue.ErrNotFound) {
			writeError(w, http.StatusNotFound, err)
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	}))
	mux.Handle("POST /api/v1/dlq/replay", auth(func(w http.ResponseWriter, r *http.Request) {
		f, ok := readFilter(w, r, false)
		if !ok {
			return
		}
		res, err := c.ReplayDeadLetters(r.Context(), f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}))
	mux.Handle("POST /api/v1/dlq/purge", auth(func(w http.ResponseWriter, r *http.Request) {
		f, ok := readFilter(w, r, true)
		if !ok {
			return
		}
		n, err := c.PurgeDeadLetters(r.Context(), f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"purged": n})
	}))
}

// listDeadLetters serves GET /api/v1/dlq.
func (c *Connector) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := queue.DeadFilter{Type: q.Get("type")}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("after: %w", err))
			return
		}
		f.AfterID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, errors.New("limit: want a positive integer"))
			return
		}
		f.Limit = n
	}
	page, err := c.DeadLetters(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// adminCursors serves the cursor routes.
func (c *Connector) adminCursors(mux *http.ServeMux, auth authed) {
	mux.Handle("GET /api/v1/cursors", auth(func(w http.ResponseWriter, r *http.Request) {
		out, err := c.Cursors(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}))
	mux.Handle("PUT /api/v1/cursors/{name}", auth(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Value *string `json:"value"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.Value == nil {
			writeError(w, http.StatusBadRequest, errors.New(`body: want {"value": "..."}`))
			return
		}
		if err := c.SetCursor(r.Context(), r.PathValue("name"), *body.Value); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		v, err := c.Cursor(r.Context(), r.PathValue("name"))
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{r.PathValue("name"): v})
	}))
}

// DeadLetter is a dead letter as the admin API shows it.
type DeadLetter struct {
	ID        uint64          `json:"id"`
	Type      string          `json:"type"`
	Key       string          `json:"key"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error"`
	History   []queue.Attempt `json:"history,omitempty"`
	// NextTry is when a record the platform refused is tried again by
	// itself (absent: it waits for an ERP change or an operator); Tries
	// counts those automatic tries so far.
	NextTry time.Time `json:"next_try,omitzero"`
	Tries   int       `json:"automatic_tries,omitempty"`
	// Unreadable marks a record that could not be read from the ERP:
	// nothing to deliver or replay; fix it at its source, then purge it.
	Unreadable bool            `json:"unreadable,omitempty"`
	Created    time.Time       `json:"created"`
	Updated    time.Time       `json:"updated"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// DeadLetterOf is the operator's view of a dead letter, its payload
// included.
func DeadLetterOf(j queue.Job) DeadLetter {
	d := deadLetter(j, true)
	if d.Payload == nil && len(j.Payload) > 0 {
		d.Payload, _ = json.Marshal(string(j.Payload)) // not JSON: shown as text
	}
	return d
}

// deadLetter is the operator's view of a dead letter (its payload when
// payload is set and it is JSON).
func deadLetter(j queue.Job, payload bool) DeadLetter {
	d := DeadLetter{ID: j.ID, Type: j.Type, Key: j.Key, Attempts: j.Attempts, LastError: j.LastError,
		History: j.History, NextTry: j.HealAt, Tries: j.Heals, Unreadable: j.Rejected, Created: j.Created, Updated: j.Updated}
	if payload && json.Valid(j.Payload) {
		d.Payload = j.Payload
	}
	return d
}

// readFilter reads a dead-letter filter; an empty body is {} (every dead
// letter) unless needBody, when it is refused.
func readFilter(w http.ResponseWriter, r *http.Request, needBody bool) (queue.DeadFilter, bool) {
	var body struct {
		IDs  []uint64 `json:"ids"`
		Type string   `json:"type"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch {
	case err != nil:
	case len(strings.TrimSpace(string(b))) > 0:
		err = json.Unmarshal(b, &body)
	case needBody:
		err = errors.New(`want {"ids":[…]}, {"type":"…"} or {} (every dead letter); it is empty`)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return queue.DeadFilter{}, false
	}
	return queue.DeadFilter{IDs: body.IDs, Type: body.Type}, true
}

// background runs fn as a one-off run that Stop cancels (and waits for).
func (c *Connector) background(name string, fn func(ctx context.Context) error) {
	c.mu.Lock()
	ctx := c.runCtx
	c.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, release := c.sched.bind(ctx)
	go func() {
		defer release()
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			c.log.Error("admin-started run failed", "run", name, "err", err)
		}
	}()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
