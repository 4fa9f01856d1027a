package connector

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// What the status page shows, built from Status, the dead letters and a
// trace (page.html renders it).

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"at": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"took": func(a, b time.Time) string {
		if a.IsZero() || b.IsZero() {
			return "—"
		}
		return b.Sub(a).Round(time.Millisecond).String()
	},
}).Parse(pageHTML))

const (
	pageRuns     = 50   // run records shown
	pageDeadRows = 100  // dead letters shown
	pageDeadScan = 2000 // dead letters looked at for a filter
)

// pageView is what page.html renders.
type pageView struct {
	Refresh    int // seconds; 0: the page does not refresh itself
	Login      bool
	LoginError string
	CSRF       string
	Session    bool // a cookie session: offer to log out
	Flash      string
	Now        time.Time
	Status     Status
	Pipelines  []string
	Runs       []runRow
	Lanes      []string
	Upstreams  []string
	Bindings   []string
	Platform   string // the dead letters' filter
	Filters    []string
	Dead       []deadRow
	DeadMore   bool
	Key        string
	Trace      *Trace
	TraceNote  string
	Targets    []string
}

// runRow is one platform's counts of a run; the first row of a run
// carries the run (Span rows).
type runRow struct {
	Span     int
	Run      RunRecord
	Platform string
	Counts   RunCounts
}

// deadRow is a dead letter as the page lists it.
type deadRow struct {
	DeadLetter
	Platform   string
	ERPKey     string // set when the job key names an ERP customer
	Replayable bool
}

// flashes are the outcomes a form reports (?done=).
var flashes = map[string]string{
	"sync":          "Sync started: the scans and change polls run now.",
	"sync-paused":   "Sync not started: the schedules are paused (resume them first).",
	"pause":         "Schedules paused (kept across restarts until resumed).",
	"resume":        "Schedules resumed.",
	"resync":        "Resync started.",
	"resync-target": "Resync not started: that platform is not configured.",
	"replay":        "Dead letters replayed: %s.",
	"failed":        "The action failed; the connector's log says why.",
}

// page serves GET /.
func (p *pageServer) page(w http.ResponseWriter, r *http.Request) {
	session, ok := p.session(r)
	if !ok {
		p.renderLogin(w, r, "")
		return
	}
	v, err := p.view(r.Context(), r, session)
	if err != nil {
		p.c.log.Error("status page", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	p.render(w, http.StatusOK, v)
}

// renderLogin answers 401 with the login form.
func (p *pageServer) renderLogin(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="erpconnector"`)
	p.render(w, http.StatusUnauthorized, pageView{Login: true, LoginError: msg, Now: p.c.now()})
}

func (p *pageServer) render(w http.ResponseWriter, status int, v pageView) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, v); err != nil {
		p.c.log.Error("status page: render", "err", err)
		http.Error(w, "status page: render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// view builds the page for a request.
func (p *pageServer) view(ctx context.Context, r *http.Request, session string) (pageView, error) {
	q := r.URL.Query()
	st, err := p.c.Status(ctx)
	if err != nil {
		return pageView{}, err
	}
	v := pageView{Refresh: pageRefresh, CSRF: p.csrf(session), Session: session != "", Now: p.c.now(), Status: st,
		Pipelines: sortedKeys(st.Runs), Runs: runRows(st.RunHistory), Lanes: lanes(st.Queue.ByLane),
		Upstreams: sortedKeys(st.Upstreams), Bindings: sortedKeys(st.Bindings), Targets: []string{"all"}}
	for _, s := range p.c.sites {
		v.Filters = append(v.Filters, string(s.name))
		v.Targets = append(v.Targets, string(s.name))
	}
	v.Filters = append(v.Filters, "erp")
	if d := q.Get("done"); flashes[d] != "" {
		v.Flash, v.Refresh = flashes[d], 0
		if strings.Contains(v.Flash, "%s") {
			v.Flash = fmt.Sprintf(v.Flash, strconv.Itoa(max(0, atoi(q.Get("n")))))
		}
	}
	v.Platform = q.Get("platform")
	if v.Dead, v.DeadMore, err = p.deadRows(ctx, v.Platform); err != nil {
		return v, err
	}
	if v.Key = strings.TrimSpace(q.Get("key")); v.Key != "" {
		v.Refresh = 0
		tr, err := p.c.Trace(ctx, v.Key)
		switch {
		case errors.Is(err, ErrNoRecord):
			v.TraceNote = "The state holds nothing of this ERP key."
		case err != nil:
			return v, err
		default:
			v.Trace = &tr
		}
	}
	return v, nil
}

// lanes are the queue's lanes, the two it always has first.
func lanes(byLane map[string]queue.Counts) []string {
	out := []string{queue.LaneLive.String(), queue.LaneBackfill.String()}
	for _, l := range sortedKeys(byLane) {
		if l != out[0] && l != out[1] {
			out = append(out, l)
		}
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// runRows lays the newest pageRuns records out, one row per platform.
func runRows(recs []RunRecord) []runRow {
	var rows []runRow
	for i, rec := range recs {
		if i == pageRuns {
			break
		}
		platforms := sortedKeys(rec.Platforms)
		if len(platforms) == 0 {
			rows = append(rows, runRow{Span: 1, Run: rec})
			continue
		}
		for j, pl := range platforms {
			row := runRow{Run: rec, Platform: pl, Counts: rec.Platforms[pl]}
			if j == 0 {
				row.Span = len(platforms)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// deadRows lists the dead letters of a platform (one, customer_api; erp:
// the ERP records that could not be read; empty: all).
func (p *pageServer) deadRows(ctx context.Context, platform string) ([]deadRow, bool, error) {
	var rows []deadRow
	f := queue.DeadFilter{Limit: 200}
	for seen := 0; seen < pageDeadScan; {
		jobs, next, err := p.c.store.DeadLetters(ctx, f)
		if err != nil {
			return nil, false, err
		}
		for _, j := range jobs {
			row := p.deadRow(j)
			if platform != "" && row.Platform != platform {
				continue
			}
			if len(rows) == pageDeadRows {
				return rows, true, nil
			}
			rows = append(rows, row)
		}
		seen += len(jobs)
		if next == 0 || len(jobs) == 0 {
			return rows, false, nil
		}
		f.AfterID = next
	}
	return rows, true, nil
}

// deadRow describes one dead letter.
func (p *pageServer) deadRow(j queue.Job) deadRow {
	row := deadRow{DeadLetter: deadLetter(j, false), Platform: "erp", Replayable: !j.Rejected}
	if s := p.c.siteOfJobKey(j.Key); s != nil {
		row.Platform = string(s.name)
		if rest, ok := strings.CutPrefix(j.Key, s.prefix+":"); ok {
			if kind, key, ok := strings.Cut(rest, ":"); ok && kind != "pull" {
				row.ERPKey = key
			}
		}
	}
	return row
}
