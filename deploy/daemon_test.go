package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// stopBudget is how long a graceful stop may take: the daemon gives
// in-flight deliveries 8 s; the units' TimeoutStopSec and the pod's
// terminationGracePeriodSeconds allow this much, and the daemon must stop
// within it after SIGTERM.
const stopBudget = 15 * time.Second

// promSynthetic are the series Prometheus writes itself for every target;
// a daemon cannot export them. alerts.yaml uses up (ErpconnectorDown).
var promSynthetic = map[string]bool{"up": true}

// daemonRun is a daemon started from the demo configuration.
type daemonRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	done    chan error
	cfgPath string
	cfgText []byte
	admin   string // 127.0.0.1:PORT
	port    string
	token   string
	oneURL  string
	client  *http.Client
}

// freePort returns a loopback port no one listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDemoDaemon writes configs/demo.yaml's configuration into a
// temporary directory (state, SQLite ERP and reference servers on their own
// paths and ports; the admin API on every address with a token, as in a
// pod) and starts the built daemon on it.
func startDemoDaemon(t *testing.T) *daemonRun {
	t.Helper()
	bin := daemonBinary(t)
	dir := t.TempDir()
	var cfg map[string]any
	readYAML(t, filepath.Join(repoRoot, "configs", "demo.yaml"), &cfg)

	adminPort, onePort, capiPort := freePort(t), freePort(t), freePort(t)
	token := "deploy-test-token"
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg["state_path"] = filepath.Join(dir, "state", "state.db")
	cfg["log_format"] = "text"
	cfg["admin"] = map[string]any{"listen": fmt.Sprintf("0.0.0.0:%d", adminPort), "token_file": filepath.Join(dir, "admin-token")}
	ref := cfg["reference"].(map[string]any)
	ref["one_listen"] = fmt.Sprintf("127.0.0.1:%d", onePort)
	ref["customer_listen"] = fmt.Sprintf("127.0.0.1:%d", capiPort)
	sql := cfg["erp"].(map[string]any)["sql"].(map[string]any)
	sql["dsn"] = filepath.Join(dir, "erp.db")
	text, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		t.Fatal(err)
	}

	d := &daemonRun{
		t: t, cfgPath: cfgPath, cfgText: text, token: token,
		admin: fmt.Sprintf("127.0.0.1:%d", adminPort), port: strconv.Itoa(adminPort),
		oneURL: fmt.Sprintf("http://127.0.0.1:%d", onePort),
		client: &http.Client{Timeout: 10 * time.Second},
		done:   make(chan error, 1),
	}
	d.cmd = exec.Command(bin, "run", "--config", cfgPath)
	d.cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "ERPCONNECTOR_") {
			d.cmd.Env = append(d.cmd.Env, e)
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(15 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.done
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("daemon log (end):\n%s", b)
		}
	})
	return d
}

// get requests a path of the admin API, with the token when auth is set.
func (d *daemonRun) get(path string, auth bool) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+d.admin+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	return d.do(req)
}

func (d *daemonRun) do(req *http.Request) (int, []byte) {
	d.t.Helper()
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// post sends a mutating admin request, as the command line does.
func (d *daemonRun) post(path string) {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+d.admin+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("X-Erpconnector-Request", "1")
	if code, body := d.do(req); code/100 != 2 {
		d.t.Fatalf("POST %s: %d %s", path, code, body)
	}
}

// waitFor polls cond every 250 ms until it holds, the daemon exits or the
// timeout passes.
func (d *daemonRun) waitFor(what string, timeout time.Duration, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case err := <-d.done:
			d.done <- err
			d.t.Fatalf("the daemon exited (%v) while waiting for %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("no %s after %s", what, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scrape returns the samples of /metrics: series (name{labels}) → value.
func (d *daemonRun) scrape() map[string]float64 {
	d.t.Helper()
	code, body := d.get("/metrics", true)
	if code != http.StatusOK {
		d.t.Fatalf("/metrics with the token: %d %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			d.t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// names returns the metric names of a scrape.
func names(samples map[string]float64) map[string]bool {
	out := map[string]bool{}
	for s := range samples {
		name, _, _ := strings.Cut(s, "{")
		out[name] = true
	}
	return out
}

// reload rewrites the configuration file and sends SIGHUP, as
// `systemctl reload` does (ExecReload=/bin/kill -HUP $MAINPID).
func (d *daemonRun) reload(text []byte) {
	d.t.Helper()
	tmp := d.cfgPath + ".new"
	if err := os.WriteFile(tmp, text, 0o600); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, d.cfgPath); err != nil {
		d.t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
}

// queriedMetrics returns every metric name the alert rules and the
// dashboard query, with where each is used.
func queriedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	for _, r := range alertRules(t) {
		for _, n := range metricNames(r.Expr) {
			used[n] = append(used[n], "alert "+r.Alert)
		}
	}
	for q, where := range dashboardQueries(t) {
		for _, n := range metricNames(q) {
			used[n] = append(used[n], where)
		}
	}
	return used
}

// dashboardQueries returns every PromQL query of the dashboard: the panels'
// targets and the template variables' queries.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	out := map[string]string{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("dashboard: panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("dashboard: panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("dashboard: panel %q has a target without expr", p.Title)
			}
			out[tg.Expr] = "panel " + p.Title
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := ""
		switch x := v.Query.(type) {
		case string:
			q = x
		case map[string]any:
			q, _ = x["query"].(string)
		}
		out[labelValuesMetric(q)] = "variable " + v.Name
	}
	if len(out) == 0 {
		t.Fatalf("%s has no queries", dashboardFile)
	}
	return out
}

// missingFrom returns the used metric names a scrape lacks, with where
// they are used.
func missingFrom(used map[string][]string, have map[string]bool) []string {
	var miss []string
	for n, where := range used {
		if !have[n] && !promSynthetic[n] {
			miss = append(miss, fmt.Sprintf("%s (%s)", n, strings.Join(where, ", ")))
		}
	}
	sort.Strings(miss)
	return miss
}

// TestMissingFromReportsUnknownMetrics: the cross-check below fails on a
// query of a metric the daemon does not export.
func TestMissingFromReportsUnknownMetrics(t *testing.T) {
	used := map[string][]string{}
	for _, n := range metricNames(`rate(erpconnector_nothing_total[5m]) > 0 or up == 0 or erpconnector_ready == 0`) {
		used[n] = append(used[n], "test")
	}
	miss := missingFrom(used, map[string]bool{"erpconnector_ready": true})
	if len(miss) != 1 || !strings.HasPrefix(miss[0], "erpconnector_nothing_total ") {
		t.Errorf("missingFrom = %q, want erpconnector_nothing_total only", miss)
	}
}

// TestDaemonExportsWhatIsQueried runs the daemon as a pod runs it (admin API
// on every address, a bearer token) on the demo configuration and checks
// what the deployment files rely on:
//
//   - /healthz and /readyz answer without the token, also when the
//     request arrives on a non-loopback address with that address as Host
//     (as the kubelet's probes do); /metrics needs the token;
//   - an invalid file on SIGHUP is counted as a failed reload and the
//     running configuration is kept; a valid one is reloaded;
//   - a platform refusing the credentials sets
//     erpconnector_queue_credentials_refused and erpconnector_ready to what
//     the alerts test, and /readyz answers 503 saying why;
//   - every metric an alert rule or a dashboard panel queries appears on
//     /metrics (up excepted: Prometheus writes it);
//   - SIGTERM stops the daemon with exit status 0 within the 15 s the unit
//     and the pod allow.
func TestDaemonExportsWhatIsQueried(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	used := queriedMetrics(t)
	d := startDemoDaemon(t)

	ready := func() bool { code, _ := d.get("/readyz", false); return code == http.StatusOK }
	d.waitFor("ready daemon (/readyz 200)", 90*time.Second, ready)
	if code, body := d.get("/healthz", false); code != http.StatusOK {
		t.Errorf("/healthz without the token: %d %s", code, body)
	}
	if code, _ := d.get("/metrics", false); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}

	// The probes of a kubelet: to the pod's address, with it as Host.
	if ip := nonLoopbackIPv4(); ip != "" {
		t.Logf("probing as a kubelet on %s", ip)
		for _, p := range []string{"/healthz", "/readyz"} {
			code, body := d.getURL("http://"+net.JoinHostPort(ip, d.port)+p, "")
			if code != http.StatusOK {
				t.Errorf("%s on %s (a probe to the pod address): %d %s", p, ip, code, body)
			}
		}
		// The admin API still refuses other names (the probes pass because
		// the Host is the address the connection arrived on).
		if code, _ := d.getURL("http://"+net.JoinHostPort(ip, d.port)+"/healthz", "elsewhere.example"); code != http.StatusForbidden {
			t.Errorf("/healthz with Host elsewhere.example: %d, want 403", code)
		}
	} else {
		t.Log("no non-loopback IPv4 address: the probe-to-pod-address check is left out")
	}

	// An invalid file: counted, the running configuration kept.
	d.reload(append(append([]byte(nil), d.cfgText...), []byte("\nlog_level: loud\n")...))
	d.waitFor(`erpconnector_config_reloads_total{result="error"} 1`, 30*time.Second, func() bool {
		return d.scrape()[`erpconnector_config_reloads_total{result="error"}`] == 1
	})
	if !ready() {
		t.Error("not ready after an invalid configuration was refused: the running one should be kept")
	}

	// ONe refuses the credentials (the reference server's fault control).
	req, _ := http.NewRequest(http.MethodPost, d.oneURL+"/_reference/faults", strings.NewReader(`{"status":401}`))
	req.Header.Set("Content-Type", "application/json")
	if code, body := d.do(req); code != http.StatusOK {
		t.Fatalf("install the 401 fault: %d %s", code, body)
	}
	d.post("/api/v1/sync")
	d.waitFor(`erpconnector_queue_credentials_refused{upstream="one"} 1`, 30*time.Second, func() bool {
		return d.scrape()[`erpconnector_queue_credentials_refused{upstream="one"}`] == 1
	})
	if s := d.scrape(); s["erpconnector_ready"] != 0 {
		t.Errorf("erpconnector_ready = %v while ONe refuses the credentials, want 0", s["erpconnector_ready"])
	}
	code, body := d.get("/readyz", false)
	if code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("refuses the credentials")) {
		t.Errorf("/readyz while ONe refuses the credentials: %d %s", code, body)
	}

	// Every queried metric: the demo's runs, deliveries and dead letters
	// make the labelled ones appear.
	var miss []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		miss = missingFrom(used, names(d.scrape()))
		if len(miss) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(miss) > 0 {
		t.Errorf("queried but not on the daemon's /metrics:\n  %s", strings.Join(miss, "\n  "))
	} else {
		t.Logf("all %d metric names the alerts and the dashboard query are on /metrics", len(used))
	}

	// The credentials fixed: a valid configuration is reloaded (a reload
	// starts new upstreams) and the daemon is ready again.
	req, _ = http.NewRequest(http.MethodDelete, d.oneURL+"/_reference/faults", nil)
	if code, body := d.do(req); code != http.StatusOK {
		t.Fatalf("remove the fault: %d %s", code, body)
	}
	d.reload(d.cfgText)
	d.waitFor(`erpconnector_config_reloads_total{result="ok"} 1`, 30*time.Second, func() bool {
		return d.scrape()[`erpconnector_config_reloads_total{result="ok"}`] == 1
	})
	// A reloaded configuration is ready after each upstream's next poll;
	// a sync polls them now.
	d.post("/api/v1/sync")
	d.waitFor("ready daemon after the reload", 60*time.Second, ready)
	if s := d.scrape(); s[`erpconnector_queue_credentials_refused{upstream="one"}`] != 0 {
		t.Errorf("credentials still refused after the reload")
	}

	// A graceful stop, within the units' TimeoutStopSec and the pod's
	// terminationGracePeriodSeconds.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Errorf("the daemon exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(stopBudget):
		t.Errorf("the daemon did not stop within %s of SIGTERM", stopBudget)
	}
}

// getURL requests a URL without the token, with a Host header of its own
// when host is set.
func (d *daemonRun) getURL(url, host string) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	return d.do(req)
}

// nonLoopbackIPv4 returns an IPv4 address of this machine that is not
// loopback ("" when there is none).
func nonLoopbackIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
