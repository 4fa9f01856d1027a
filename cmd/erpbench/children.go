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
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/config"
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
	// ResyncSeconds and ResyncQueued describe the full resync run after
	// the sync (with --resync).
	ResyncSeconds float64                   `json:"resync_seconds,omitempty"`
	ResyncQueued  int                       `json:"resync_queued,omitempty"`
	Queue         queue.Stats               `json:"queue"`
	Outcomes      map[string]map[string]int `json:"outcomes"`
	Bindings      map[string]int            `json:"bindings"`
	SyncErr       string                    `json:"sync_err,omitempty"`
	// BreakerTransitions are the circuit breaker's state changes by
	// upstream and new state (erpconnector_queue_breaker_transitions_total).
	BreakerTransitions map[string]map[string]int `json:"breaker_transitions,omitempty"`
	// UpstreamPauses are the whole-upstream Retry-After pauses by upstream
	// (erpconnector_queue_upstream_pauses_total).
	UpstreamPauses map[string]int `json:"upstream_pauses,omitempty"`
}

// Metric names the child reports from its registry.
const (
	metricBreakerTransitions = "erpconnector_queue_breaker_transitions_total"
	metricUpstreamPauses     = "erpconnector_queue_upstream_pauses_total"
)

// gatherGuards reads the breaker transitions and upstream pauses from the
// connector's registry into rep.
func gatherGuards(reg prometheus.Gatherer, rep *childReport) error {
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != metricBreakerTransitions && name != metricUpstreamPauses {
			continue
		}
		for _, m := range mf.GetMetric() {
			var upstream, to string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "upstream":
					upstream = l.GetValue()
				case "to":
					to = l.GetValue()
				}
			}
			v := int(m.GetCounter().GetValue())
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
	idlePoll := fs.Duration("idle-poll", 0, "wait for the queue to drain by calling Idle at this interval instead of WaitIdle (0: WaitIdle, as sync --once does)")
	resync := fs.Bool("resync", false, "after the sync, run a full resync (as `erpconnector resync` does) and wait for its repairs")
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
		rstart := time.Now()
		rr, err := conn.Resync(ctx)
		if err != nil {
			return fmt.Errorf("connector: resync: %w", err)
		}
		if err := waitIdle(ctx, conn, *idlePoll); err != nil {
			return fmt.Errorf("connector: wait idle after resync: %w", err)
		}
		rep.ResyncSeconds, rep.ResyncQueued = time.Since(rstart).Seconds(), rr.Queued
	}
	st, err := conn.Status(ctx)
	if err != nil {
		return fmt.Errorf("connector: status: %w", err)
	}
	rep.Seconds, rep.Queue, rep.Outcomes, rep.Bindings = seconds, st.Queue, st.Outcomes, st.Bindings
	rep.PeakRSSKiB, rep.PeakAnonKiB = peakRSSKiB(), anon.Stop()
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
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startAnonSampler(every time.Duration) *anonSampler {
	a := &anonSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v := procStatusKiB("RssAnon:"); v > a.peak.Load() {
				a.peak.Store(v)
			}
			select {
			case <-a.stop:
				return
			case <-t.C:
			}
		}
	}()
	return a
}

// Stop ends the sampling and returns the peak in KiB.
func (a *anonSampler) Stop() int64 {
	close(a.stop)
	<-a.done
	if v := procStatusKiB("RssAnon:"); v > a.peak.Load() {
		a.peak.Store(v)
	}
	return a.peak.Load()
}
