package connector

import (
	"net/http"
	"strconv"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// StateCheck is the answer of GET /api/v1/state/check.
type StateCheck struct {
	// OK is true when the state file passed the check.
	OK bool `json:"ok"`
	// Error says what is wrong when it did not (with the recovery steps).
	Error string `json:"error,omitempty"`
	// Report is what the check found.
	Report queue.CheckReport `json:"report"`
}

// StateHandler serves the state file routes of the admin API, without
// authentication (the admin API wraps it in its own):
//
//	GET /api/v1/state/check    check the state file as of now: every page in use and every job record (200, StateCheck)
//	GET /api/v1/state/backup   a consistent copy of the state file as of now (application/octet-stream, with Content-Length)
//
// Both run in one read transaction of the state file while the connector
// goes on working; the backup is a complete bbolt file (Tx.WriteTo) that
// the command line checks before it keeps it.
func (c *Connector) StateHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/state/check", func(w http.ResponseWriter, r *http.Request) {
		rep, err := c.CheckState(r.Context())
		out := StateCheck{OK: err == nil, Report: rep}
		if err != nil {
			out.Error = err.Error()
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/v1/state/backup", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		started := false
		n, err := c.store.Backup(r.Context(), w, func(size int64) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.Header().Set("Content-Disposition", `attachment; filename="state.db"`)
			w.WriteHeader(http.StatusOK)
			started = true
		})
		if err != nil {
			c.log.Error("state backup failed", "bytes", n, "err", err)
			if !started {
				writeError(w, http.StatusInternalServerError, err)
			}
			// Otherwise the response is cut short of its Content-Length,
			// which the client sees as a failed copy.
			return
		}
		c.log.Info("state backup served", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	})
	return mux
}
