package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// RunFigures are the figures of one timed connector run, shared by the
// JSON lines of migrate, feed, update and pull.
//
// The connector runs as a child process of its own (the reference servers
// are other children), so its CPU time is the child's own: user + system
// time from the rusage wait4 returns when it exits, every thread of the
// process and nothing of the servers or of erpbench. It includes the
// child's start (configuration, opening the ERP and the state file), which
// is milliseconds.
type RunFigures struct {
	// Seconds is the child's wall time, start to exit.
	Seconds float64 `json:"seconds"`
	// ConnectorRPS is records ÷ Seconds.
	ConnectorRPS float64 `json:"connector_rps"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	PeakAnonMiB  float64 `json:"peak_anon_mib"`
	// PeakAnonGoMiB is the Go runtime's part of PeakAnonMiB (the rest is
	// memory allocated outside it, such as the SQLite driver's caches).
	PeakAnonGoMiB float64 `json:"peak_anon_go_mib"`
	// ConnectorCPUS is the child's user + system CPU time;
	// ConnectorCPUUSPerRecord the same in µs per record.
	ConnectorCPUS           float64 `json:"connector_cpu_s"`
	ConnectorCPUUSPerRecord float64 `json:"connector_cpu_us_per_record"`
	// ServerCPUUSPerRecord is the platform's server process's user +
	// system CPU time during the run (answering the connector: on one
	// machine, what the connector's requests cost it), in µs per record.
	ServerCPUUSPerRecord float64 `json:"server_cpu_us_per_record"`
	// Requests are the requests the platform's server received during the
	// run (its counters, 429 answers included); RequestsPerRecord is
	// Requests ÷ records; RequestsByOperation splits Requests by the
	// server's operation ids.
	Requests            int64            `json:"requests"`
	RequestsPerRecord   float64          `json:"requests_per_record"`
	RequestsByOperation map[string]int64 `json:"requests_by_operation"`
	// Responses429 are the server's 429 answers during the run.
	Responses429 int64 `json:"responses_429"`
	// RateUtilisation is, with --server-rate, the requests the server
	// accepted (not answered 429) during the run ÷ the most it would have
	// accepted in that time: server_burst + server_rate × seconds (its
	// token bucket is full when the run starts). Over a long run that is
	// the achieved request rate ÷ the allowed rate.
	RateUtilisation float64 `json:"rate_utilisation,omitempty"`
}

// UpstreamFigures say how the platform's server behaved in the timed runs
// (all zero for a plain run).
type UpstreamFigures struct {
	LatencyMS    float64 `json:"latency_ms,omitempty"`
	ServerRate   float64 `json:"server_rate,omitempty"`
	ServerBurst  int     `json:"server_burst,omitempty"`
	UpstreamRate float64 `json:"upstream_rate,omitempty"`
}

// figures are u's settings as reported.
func (u upstreamOptions) figures() UpstreamFigures {
	f := UpstreamFigures{LatencyMS: float64(u.latency) / float64(time.Millisecond), ServerRate: u.serverRate, UpstreamRate: u.rate}
	if u.serverRate > 0 {
		f.ServerBurst = u.burst()
	}
	return f
}

// burst is the server's token bucket size.
func (u upstreamOptions) burst() int {
	if u.serverBurst > 0 {
		return u.serverBurst
	}
	return max(1, int(math.Ceil(u.serverRate)))
}

// throttle makes the server at base the realistic upstream u describes
// (a no-op for a plain run).
func throttle(ctx context.Context, base string, u upstreamOptions) error {
	if !u.on() {
		return nil
	}
	t := fault.Throttle{Latency: fault.Duration(u.latency), Rate: u.serverRate}
	if u.serverRate > 0 {
		t.Burst = u.burst()
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	if err := send(ctx, hc, http.MethodPut, base+oneapitest.ControlPrefix+"/throttle", "", b, http.StatusOK, nil); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// unthrottle removes a throttle the timed run had (the verification reads
// the server at full speed).
func unthrottle(ctx context.Context, base string, u upstreamOptions) error {
	if !u.on() {
		return nil
	}
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	if err := send(ctx, hc, http.MethodPut, base+oneapitest.ControlPrefix+"/throttle", "", []byte("{}"), http.StatusOK, nil); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// timedRun runs the connector child on cfg and measures it: the child's
// wall time, memory and CPU, and the requests the server at base received
// meanwhile, over records.
func timedRun(ctx context.Context, o benchOptions, dir, cfg, tag string, srv *serverProc, records int, extra ...string) (RunFigures, childRun, error) {
	before, err := counters(ctx, srv.url)
	if err != nil {
		return RunFigures{}, childRun{}, err
	}
	cpu0, err := procCPU(srv.cmd.Process.Pid)
	if err != nil {
		return RunFigures{}, childRun{}, err
	}
	run, err := runConnectorChild(ctx, o, dir, cfg, tag, extra...)
	if err != nil {
		return RunFigures{}, run, err
	}
	cpu1, err := procCPU(srv.cmd.Process.Pid)
	if err != nil {
		return RunFigures{}, run, err
	}
	after, err := counters(ctx, srv.url)
	if err != nil {
		return RunFigures{}, run, err
	}
	f := runFigures(run, records, before, after, o.upstream)
	if records > 0 {
		f.ServerCPUUSPerRecord = math.Round(float64((cpu1 - cpu0).Microseconds()) / float64(records))
	}
	return f, run, nil
}

// procCPU is the user + system CPU time of process pid so far, from
// /proc (in the kernel's USER_HZ ticks, 100 a second).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	// The fields after the command name (which may hold spaces, in
	// parentheses): state is the 3rd field of the line, utime the 14th,
	// stime the 15th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("server CPU: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU: unexpected /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("server CPU: /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// runFigures computes a run's figures from the child's measurements and the
// server's counters before and after it.
func runFigures(run childRun, records int, before, after map[string]fault.OpCount, u upstreamOptions) RunFigures {
	f := RunFigures{
		Seconds:       round2(run.wall.Seconds()),
		ConnectorRPS:  round1(float64(records) / run.wall.Seconds()),
		PeakRSSMiB:    round2(run.rssMiB),
		PeakAnonMiB:   round2(run.anonMiB),
		PeakAnonGoMiB: round2(run.anonGoMiB),
		ConnectorCPUS: round2(run.cpuS),
		// Whole microseconds; a run's CPU time is known to the µs.
		ConnectorCPUUSPerRecord: math.Round(run.cpuS * 1e6 / float64(records)),
		RequestsByOperation:     map[string]int64{},
	}
	for op, a := range after {
		b := before[op]
		if n := a.Total - b.Total; n > 0 {
			f.RequestsByOperation[op] = n
			f.Requests += n
		}
		f.Responses429 += a.ByStatus[http.StatusTooManyRequests] - b.ByStatus[http.StatusTooManyRequests]
	}
	f.RequestsPerRecord = round2(float64(f.Requests) / float64(records))
	if u.serverRate > 0 {
		accepted := float64(f.Requests - f.Responses429)
		f.RateUtilisation = round2(accepted / (float64(u.burst()) + u.serverRate*run.wall.Seconds()))
	}
	return f
}

// describe is the figures as one line of progress output.
func (f RunFigures) describe() string {
	ops := make([]string, 0, len(f.RequestsByOperation))
	for op := range f.RequestsByOperation {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	by := ""
	for i, op := range ops {
		if i > 0 {
			by += ", "
		}
		by += op + " " + strconv.FormatInt(f.RequestsByOperation[op], 10)
	}
	s := fmt.Sprintf("%d requests (%.2f a record: %s), %d answered 429", f.Requests, f.RequestsPerRecord, by, f.Responses429)
	if f.RateUtilisation > 0 {
		s += fmt.Sprintf(", rate utilisation %.2f", f.RateUtilisation)
	}
	return s + fmt.Sprintf("; CPU %.0f µs a record (the server's %.0f µs)", f.ConnectorCPUUSPerRecord, f.ServerCPUUSPerRecord)
}

// stateBytes is the size of the state file.
func stateBytes(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("state file: %w", err)
	}
	return fi.Size(), nil
}

// bindings sums the connector's bound customers over its platforms.
func bindings(rep childReport) int {
	n := 0
	for _, v := range rep.Bindings {
		n += v
	}
	return n
}

// rawLoop sends the baselines' requests over keep-alive connections: paced
// as the connector's upstream is when it has a rate (that rate, and the
// connector's default burst: the rate rounded down, at least 1), a 429
// waited out for its Retry-After and sent again.
type rawLoop struct {
	hc *http.Client
	// auth sets a request's credentials.
	auth func(*http.Request)
	// pace is nil without an upstream rate.
	pace      *rate.Limiter
	requests  atomic.Int64
	throttled atomic.Int64
}

func newRawLoop(c int, u upstreamOptions, auth func(*http.Request)) *rawLoop {
	l := &rawLoop{hc: newHTTPClient(c), auth: auth}
	if u.rate > 0 {
		l.pace = rate.NewLimiter(rate.Limit(u.rate), max(1, int(u.rate)))
	}
	return l
}

func (l *rawLoop) close() { l.hc.CloseIdleConnections() }

// do sends one request until it is not answered 429, and fails on any
// status but want; out, when not nil, receives the decoded answer.
func (l *rawLoop) do(ctx context.Context, method, url string, body []byte, want int, out any) error {
	for {
		if l.pace != nil {
			if err := l.pace.Wait(ctx); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, url, bytesReader(body))
		if err != nil {
			return err
		}
		if l.auth != nil {
			l.auth(req)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		l.requests.Add(1)
		resp, err := l.hc.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			l.throttled.Add(1)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		err = answer(resp, method, req.URL.Path, want, out)
		resp.Body.Close()
		return err
	}
}

// answer checks a response's status and decodes its body into out.
func answer(resp *http.Response, method, path string, want int, out any) error {
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err := io.Copy(io.Discard, resp.Body)
	return err
}
