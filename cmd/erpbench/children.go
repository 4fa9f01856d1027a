package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/fileerp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/cputime"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
	"github.com/erpconnector/erpconnector/queue"
)

// apiKeyEnv passes the tenant's API key to a serve-one child, and the
// user's password to a serve-customer child (never on its command line,
// which other users of the machine can read).
const apiKeyEnv = "ERPBENCH_API_KEY"

// serveOneMain is the hidden `serve-one` subcommand: the ONe reference
// server (no faults, no limits) on loopback. The first line on stdout is its
// base URL; it serves until the context ends or stdin reaches end of file
// (so it never outlives the parent that holds the pipe).
func serveOneMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve-one", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	tenant := fs.String("tenant", "", "tenant as NAME (its API key from $"+apiKeyEnv+") or NAME=KEY")
	seed := fs.Uint64("seed", 1, "seed for generated ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	name, key, ok := strings.Cut(*tenant, "=")
	if !ok {
		key = os.Getenv(apiKeyEnv)
	}
	if name == "" || key == "" {
		return errors.New("serve-one: --tenant: want NAME with $" + apiKeyEnv + " set, or NAME=KEY")
	}
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{name: key}, Seed: *seed})
	if err != nil {
		return fmt.Errorf("serve-one: %w", err)
	}
	defer one.Close()
	return serveLoopback(ctx, "serve-one", *listen, one, stdout)
}

// serveLoopback serves h on listen (the serve-* subcommands): the first
// line on stdout is the base URL; it serves until the context ends or
// stdin reaches end of file. cmd names the subcommand in errors.
func serveLoopback(ctx context.Context, cmd, listen string, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", cmd, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		_ = srv.Close()
		return fmt.Errorf("%s: announce address: %w", cmd, err)
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: serve: %w", cmd, err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// childReport is the last line the connector child prints: what the
// parent checks beyond the servers' and the ERP's contents.
type childReport struct {
	Seconds float64 `json:"seconds"`
	// PeakRSSKiB is the process's own high-water RSS (VmHWM). The parent's
	// rusage Maxrss cannot be used alone: on Linux a child spawned with
	// vfork semantics starts its ru_maxrss from the parent's RSS.
	PeakRSSKiB int64 `json:"peak_rss_kib"`
	// PeakAnonKiB is the highest anonymous resident memory sampled every 20 ms.
	PeakAnonKiB int64 `json:"peak_anon_kib"`
	// PeakAnonGoKiB is, at that peak, the memory the Go runtime held and
	// had not returned to the system (heap, stacks, its own structures):
	// the rest of the peak is memory allocated outside the Go runtime
	// (the SQLite driver's page caches).
	PeakAnonGoKiB int64 `json:"peak_anon_go_kib"`
	// ResyncSeconds and ResyncQueued describe the full resync run after
	// the sync (with --resync).
	ResyncSeconds float64 `json:"resync_seconds,omitempty"`
	ResyncQueued  int     `json:"resync_queued,omitempty"`
	// ResyncCPUSeconds is the CPU the connector process used during the
	// resync (less noisy than its wall time on a busy machine).
	ResyncCPUSeconds float64                   `json:"resync_cpu_seconds,omitempty"`
	Queue            queue.Stats               `json:"queue"`
	Outcomes         map[string]map[string]int `json:"outcomes"`
	Bindings         map[string]int            `json:"bindings"`
	SyncErr          string                    `json:"sync_err,omitempty"`
	// BreakerTransitions are the circuit breaker's state changes by
	// upstream and new state (erpconnector_queue_breaker_transitions_total).
	BreakerTransitions map[string]map[string]int `json:"breaker_transitions,omitempty"`
	// UpstreamPauses are the whole-upstream Retry-After pauses by upstream
	// (erpconnector_queue_upstream_pauses_total).
	UpstreamPauses map[string]int `json:"upstream_pauses,omitempty"`
	// Rejected are the unreadable ERP records recorded as dead letters, by
	// kind: row or file (erpconnector_erp_rejected_total).
	Rejected map[string]int `json:"rejected,omitempty"`
}

// Metric names the child reports from its registry.
const (
	metricBreakerTransitions = "erpconnector_queue_breaker_transitions_total"
	metricUpstreamPauses     = "erpconnector_queue_upstream_pauses_total"
	metricERPRejected        = "erpconnector_erp_rejected_total"
)

// gatherGuards reads the breaker transitions, the upstream pauses and the
// rejected ERP records from the connector's registry into rep.
func gatherGuards(reg prometheus.Gatherer, rep *childReport) error {
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != metricBreakerTransitions && name != metricUpstreamPauses && name != metricERPRejected {
			continue
		}
		for _, m := range mf.GetMetric() {
			var upstream, to, kind string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "upstream":
					upstream = l.GetValue()
				case "to":
					to = l.GetValue()
				case "kind":
					kind = l.GetValue()
				}
			}
			v := int(m.GetCounter().GetValue())
			if name == metricERPRejected {
				if rep.Rejected == nil {
					rep.Rejected = map[string]int{}
				}
				rep.Rejected[kind] += v
				continue
			}
			if name == metricUpstreamPauses {
				if rep.UpstreamPauses == nil {
					rep.UpstreamPauses = map[string]int{}
				}
				rep.UpstreamPauses[upstream] += v
				continue
			}
			if rep.BreakerTransitions == nil {
				rep.BreakerTransitions = map[string]map[string]int{}
			}
			if rep.BreakerTransitions[upstream] == nil {
				rep.BreakerTransitions[upstream] = map[string]int{}
			}
			rep.BreakerTransitions[upstream][to] += v
		}
	}
	return nil
}

// connectorMain is the hidden `connector` subcommand: one pass of the real
// pipeline, exactly as `erpconnector sync --once` runs it locally (load and
// validate the configuration, open the ERP, New, Start, SyncOnce, WaitIdle,
// Stop). Its last stdout line is a childReport.
func connectorMain(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("connector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file once the queue is idle (after a collection)")
	idlePoll := fs.Duration("idle-poll", 0, "wait for the queue to drain by calling Idle at this interval instead of WaitIdle (0: WaitIdle, as sync --once does)")
	resync := fs.Bool("resync", false, "after the sync, run a full resync (as `erpconnector resync` does) and wait for its repairs")
	passesPath := fs.String("erp-passes", "", "write what the ERP adapter's Changes returned, pass by pass, to this file (JSON)")
	leaveOut := fs.String("leave-out", "", "comma-separated items (ERP keys, or reject:<source> for an item without a key) taken out of the pages the connector reads: tests of the soaks' checks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("connector: cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			_ = pf.Close()
			return fmt.Errorf("connector: cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			err = errors.Join(err, pf.Close())
		}()
	}
	f, err := config.LoadValid(*cfgPath, os.Environ())
	if err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	log := f.NewLogger(stderr)
	anon := startAnonSampler(20 * time.Millisecond)
	start := time.Now()
	adapter, err := f.OpenERP(ctx, log)
	if err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	defer func() {
		if c, ok := adapter.(erp.Closer); ok {
			err = errors.Join(err, c.Close())
		}
	}()
	if *passesPath != "" || *leaveOut != "" {
		pc := newPassCounter(*leaveOut)
		if adapter, err = pc.wrap(adapter); err != nil {
			return fmt.Errorf("connector: %w", err)
		}
		if *passesPath != "" {
			defer func() { err = errors.Join(err, pc.save(*passesPath)) }()
		}
	}
	reg := prometheus.NewRegistry()
	conn, err := connector.New(connector.Options{Config: f.Connector(), ERP: adapter, Logger: log,
		Registerer: reg, Version: "erpbench"})
	if err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	if err := conn.Start(ctx); err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = errors.Join(err, conn.Stop(sctx))
	}()
	syncErr := conn.SyncOnce(ctx)
	if err := waitIdle(ctx, conn, *idlePoll); err != nil {
		return fmt.Errorf("connector: wait idle: %w", err)
	}
	seconds := time.Since(start).Seconds()
	var rep childReport
	if *resync && syncErr == nil {
		rstart, rcpu := time.Now(), cputime.Process()
		rr, err := conn.Resync(ctx)
		if err != nil {
			return fmt.Errorf("connector: resync: %w", err)
		}
		if err := waitIdle(ctx, conn, *idlePoll); err != nil {
			return fmt.Errorf("connector: wait idle after resync: %w", err)
		}
		rep.ResyncSeconds, rep.ResyncQueued = time.Since(rstart).Seconds(), rr.Queued
		rep.ResyncCPUSeconds = (cputime.Process() - rcpu).Seconds()
	}
	st, err := conn.Status(ctx)
	if err != nil {
		return fmt.Errorf("connector: status: %w", err)
	}
	rep.Seconds, rep.Queue, rep.Outcomes, rep.Bindings = seconds, st.Queue, st.Outcomes, st.Bindings
	rep.PeakRSSKiB = peakRSSKiB()
	rep.PeakAnonKiB, rep.PeakAnonGoKiB = anon.Stop()
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return fmt.Errorf("connector: %w", err)
		}
	}
	if syncErr != nil {
		rep.SyncErr = syncErr.Error()
	}
	if err := gatherGuards(reg, &rep); err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("connector: encode report: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
		return fmt.Errorf("connector: report: %w", err)
	}
	if syncErr != nil {
		return fmt.Errorf("connector: sync: %w", syncErr)
	}
	return nil
}

// waitIdle is conn.WaitIdle, or with every > 0 a poll of conn.Idle at that
// interval (Idle scans the whole queue, so its frequency is a cost).
func waitIdle(ctx context.Context, conn *connector.Connector, every time.Duration) error {
	if every <= 0 {
		return conn.WaitIdle(ctx)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		idle, err := conn.Idle(ctx)
		if err != nil || idle {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// peakRSSKiB reads this process's high-water resident set size (VmHWM)
// from /proc; 0 when it cannot.
func peakRSSKiB() int64 { return procStatusKiB("VmHWM:") }

// procStatusKiB reads one kB field of /proc/self/status; 0 when it cannot.
func procStatusKiB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}

// anonSampler follows the anonymous part of the resident set (RssAnon:
// heap, stacks, the database driver's memory), which the kernel has no
// high-water mark for; the rest of VmHWM is file pages (the executable's
// code, the mapped state file) that the kernel can drop and read again.
type anonSampler struct {
	mu     sync.Mutex
	peak   int64 // KiB
	peakGo int64 // KiB the Go runtime held at the peak
	stop   chan struct{}
	done   chan struct{}
}

func startAnonSampler(every time.Duration) *anonSampler {
	a := &anonSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			a.sample()
			select {
			case <-a.stop:
				return
			case <-t.C:
			}
		}
	}()
	return a
}

// sample reads RssAnon and, at a new peak, what the Go runtime held.
func (a *anonSampler) sample() {
	v := procStatusKiB("RssAnon:")
	a.mu.Lock()
	defer a.mu.Unlock()
	if v <= a.peak {
		return
	}
	// The memory the Go runtime holds: all it mapped, less what it
	// returned to the system.
	goHeld := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(goHeld)
	a.peak = v
	if goHeld[0].Value.Kind() == metrics.KindUint64 && goHeld[1].Value.Kind() == metrics.KindUint64 {
		a.peakGo = int64(goHeld[0].Value.Uint64()-goHeld[1].Value.Uint64()) / 1024
	}
}

// Stop ends the sampling and returns the peak and the Go runtime's part
// of it, in KiB.
func (a *anonSampler) Stop() (peak, goPart int64) {
	close(a.stop)
	<-a.done
	a.sample()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peak, a.peakGo
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

// passLoopAt is how often one item may come back within one pass before
// the pass counts as a loop (its scan is then stopped with an error).
const passLoopAt = 5

// erpPass is one walk of the ERP's changes as the connector's scan makes
// it: the pages Changes returned from the call that started the walk to
// the one that ended it (a page without More or without items, or an
// error).
type erpPass struct {
	Pages int `json:"pages"`
	// Items counts the items returned, by passItemID.
	Items map[string]int `json:"items"`
	// Places counts, for an item returned at more than one place in the
	// pass (its row changed meanwhile and came again at its new
	// updated-at), the places.
	Places map[string]int `json:"places,omitempty"`
	// Err is the error that ended the pass, if any.
	Err string `json:"err,omitempty"`
	// at holds the places (updated-at, in ms) each item was returned at.
	at map[string]map[int64]bool
}

// passItemID names an item in a pass: its ERP key, or for an item without
// one (an unreadable row or file) reject:<source>.
func passItemID(it erp.Item) string {
	if it.Key != "" {
		return it.Key
	}
	return "reject:" + it.Source
}

// passCounter records the passes of the connector over the ERP's changes
// (the connector reads them from one scan at a time) and, for tests of the
// soaks' checks, takes chosen items out of the pages.
type passCounter struct {
	mu       sync.Mutex
	passes   []erpPass
	open     bool
	leaveOut map[string]bool
}

func newPassCounter(leaveOut string) *passCounter {
	pc := &passCounter{leaveOut: map[string]bool{}}
	for _, id := range strings.Split(leaveOut, ",") {
		if id = strings.TrimSpace(id); id != "" {
			pc.leaveOut[id] = true
		}
	}
	return pc
}

// countedTable and countedFolder are the adapters with their Changes
// counted; every other method (and optional extra) is the adapter's own.
type countedTable struct {
	*sqlerp.Table
	pc *passCounter
}

func (t countedTable) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	return t.pc.changes(ctx, t.Table.Changes, cursor, limit)
}

func (t countedTable) ChangesKnown(ctx context.Context, cursor string, limit int, known func(string, uint64) bool) (erp.Page, error) {
	return t.pc.changes(ctx, func(ctx context.Context, cursor string, limit int) (erp.Page, error) {
		return t.Table.ChangesKnown(ctx, cursor, limit, known)
	}, cursor, limit)
}

type countedFolder struct {
	*fileerp.Folder
	pc *passCounter
}

func (f countedFolder) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	return f.pc.changes(ctx, f.Folder.Changes, cursor, limit)
}

// wrap returns a with its Changes counted.
func (pc *passCounter) wrap(a erp.Adapter) (erp.Adapter, error) {
	switch x := a.(type) {
	case *sqlerp.Table:
		return countedTable{Table: x, pc: pc}, nil
	case *fileerp.Folder:
		return countedFolder{Folder: x, pc: pc}, nil
	}
	return nil, fmt.Errorf("count the ERP's changes: adapter %T not supported", a)
}

// changes calls the adapter's Changes and records the page in the open
// pass (a new one when none is open).
func (pc *passCounter) changes(ctx context.Context, next func(context.Context, string, int) (erp.Page, error), cursor string, limit int) (erp.Page, error) {
	page, err := next(ctx, cursor, limit)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if !pc.open {
		pc.passes = append(pc.passes, erpPass{Items: map[string]int{}, Places: map[string]int{}, at: map[string]map[int64]bool{}})
		pc.open = true
	}
	p := &pc.passes[len(pc.passes)-1]
	if err != nil {
		p.Err, pc.open = err.Error(), false
		return page, err
	}
	p.Pages++
	loop := ""
	kept := make([]erp.Item, 0, len(page.Items))
	for _, it := range page.Items {
		id := passItemID(it)
		p.Items[id]++
		if p.at[id] == nil {
			p.at[id] = map[int64]bool{}
		}
		if at := it.Customer.UpdatedAt.UnixMilli(); !p.at[id][at] {
			p.at[id][at] = true
			if len(p.at[id]) > 1 {
				p.Places[id] = len(p.at[id])
			}
		}
		if p.Items[id] == passLoopAt && loop == "" {
			loop = id
		}
		if !pc.leaveOut[id] {
			kept = append(kept, it)
		}
	}
	page.Items = kept
	if loop != "" {
		err := fmt.Errorf("erpbench: the ERP's changes returned %s %d times in one pass: the scan does not advance", loop, passLoopAt)
		p.Err, pc.open = err.Error(), false
		return erp.Page{}, err
	}
	if !page.More || len(page.Items) == 0 {
		pc.open = false
	}
	return page, nil
}

// save writes the passes to path as JSON.
func (pc *passCounter) save(path string) error {
	pc.mu.Lock()
	b, err := json.Marshal(pc.passes)
	pc.mu.Unlock()
	if err != nil {
		return fmt.Errorf("connector: encode erp passes: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("connector: erp passes: %w", err)
	}
	return nil
}
