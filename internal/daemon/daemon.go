// Package daemon runs the connector as a long-lived process and opens the
// connector for a one-shot command.
//
// Run is the daemon: it starts the embedded reference servers when the
// configuration asks for them, opens the ERP and the connector, serves the
// admin API, reloads the configuration on a signal (keeping, or restarting,
// the running configuration when the new one fails) and stops gracefully
// when its context ends. Each generation it starts, at start and after a
// reload, begins with a first pass, so that it is ready (each upstream
// polled once) without waiting for the schedules; a reload sets the
// logger's level to the new log_level.
//
// Open is a one-shot command's way in: the running daemon's admin API when
// it answers (internal/adminclient), otherwise the connector's state opened
// in this process (Local). Both are a connector.Control, so each command is
// written once.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
)

// StopTimeout bounds a graceful stop: in-flight deliveries get this long.
const StopTimeout = 8 * time.Second

// Options configure the daemon.
type Options struct {
	// Load reads and validates the configuration file again, for a reload.
	Load func() (*config.File, error)
	// Logger is the daemon's one logger.
	Logger *slog.Logger
	// Level, when set, is the minimum level Logger's handler reads
	// (config.File.NewLoggerAt): a reload sets it to the new log_level.
	// log_format is read once, at start: a reload that changes it logs a
	// warning and the format changes at the next start.
	Level *slog.LevelVar
	// Reload delivers a signal for each reload asked for (SIGHUP).
	Reload <-chan os.Signal
	// Listening, when set, is told the admin API's address (host:port)
	// once it listens.
	Listening func(addr string)
	// Version is the build's version, shown in the metrics.
	Version string
}

// daemon holds the running generation and serves the admin API for it.
type daemon struct {
	opts      Options
	log       *slog.Logger
	logFormat string // the log_format the logger was built with
	refs      *References
	cur       atomic.Pointer[engine]
	reloads   *prometheus.CounterVec
	// lastReload is 0 after a failed reload, 1 after a good one and at start.
	lastReload prometheus.Gauge
	reg        *prometheus.Registry // the daemon's own series (reloads)
	handler    atomic.Pointer[http.Handler]
}

func (d *daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := d.handler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// install makes e, started from f, the generation the admin API serves.
func (d *daemon) install(f *config.File, e *engine) {
	gath := prometheus.Gatherers{e.reg, d.reg}
	h := e.conn.AdminHandler(connector.AdminOptions{Token: f.Admin.Token, Gatherer: gath, Listen: f.Admin.Listen})
	d.cur.Store(e)
	d.handler.Store(&h)
}

// Run runs the daemon on the configuration f until ctx ends, reloading
// the configuration (opts.Load) on each opts.Reload signal. It returns an
// error when it cannot start; a failed reload is logged and the daemon
// goes on with the running configuration.
func Run(ctx context.Context, f *config.File, opts Options) error {
	d := &daemon{opts: opts, log: opts.Logger, logFormat: f.LogFormat}
	d.warnUnknownEnv(f)
	if dir := f.DataDir(); dir != "" {
		d.log.Info("running the embedded demo", "data_dir", dir, "state", f.StatePath)
	}
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_config_reloads_total",
		Help: "Configuration reloads, by result."}, []string{"result"})
	d.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{Name: "erpconnector_config_last_reload_successful",
		Help: "0 after a configuration reload failed (the daemon runs the configuration it had), 1 after one succeeded and at start."})
	d.lastReload.Set(1)
	// Both results have a series from the start (an alert compares them).
	d.reloads.WithLabelValues("ok")
	d.reloads.WithLabelValues("error")
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(d.reloads, d.lastReload)

	refs, err := StartReferences(f, d.log)
	if err != nil {
		return err
	}
	d.refs = refs
	defer refs.Close(context.Background())

	e, err := openEngine(ctx, f, d.log, opts.Version, true)
	if err != nil {
		return err
	}
	d.install(f, e)
	defer d.stop()

	stopAdmin, err := d.serveAdmin(f)
	if err != nil {
		return err
	}
	defer stopAdmin()

	if f.IsDemo() {
		refs.registerStorefrontClients(f.Reference.ONeTenant, f.Demo.StorefrontRegistrations, d.log)
		refs.publishFarmCertificates(ctx, e.erp, d.log)
	}
	d.firstPass(ctx, e)

	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping")
			return nil
		case <-opts.Reload:
			f = d.reload(ctx, f)
		}
	}
}

// firstPass runs a first pass of e right away (the ERP scans, each
// platform's change source, the enrichment) in the background; then the
// schedules take over. Readiness waits for the first success of each
// upstream's poll, so a generation that polled only on its schedules
// would stay not ready until then (minutes with the default schedules).
// Stopping e cancels the pass.
func (d *daemon) firstPass(ctx context.Context, e *engine) {
	go func() {
		err := e.conn.SyncOnce(ctx)
		switch {
		case errors.Is(err, connector.ErrPaused):
			d.log.Info("no first pass: the schedules are paused; readiness waits for each upstream's first poll after resume")
		case err != nil && !errors.Is(err, context.Canceled):
			d.log.Warn("first sync", "err", err)
		}
	}()
}

// setLevel makes the logger log at f's log_level from now on (when the
// daemon was given a Level).
func (d *daemon) setLevel(f *config.File) {
	if lv := d.opts.Level; lv != nil && lv.Level() != f.Level() {
		from := lv.Level()
		lv.Set(f.Level())
		d.log.Info("log level changed", "from", from.String(), "to", f.Level().String())
	}
}

// warnLogFormat says that a log_format change waits for the next start:
// the handler is built once, at start.
func (d *daemon) warnLogFormat(f *config.File) {
	if f.LogFormat != d.logFormat {
		d.log.Warn("log_format changes at the next start; the running daemon keeps its format",
			"running", d.logFormat, "configured", f.LogFormat)
	}
}

// warnUnknownEnv logs the ERPCONNECTOR_ variables that match no key.
func (d *daemon) warnUnknownEnv(f *config.File) {
	for _, name := range f.UnknownEnv() {
		if near := config.NearestEnv(name); near != "" {
			d.log.Warn("environment variable matches no configuration key; ignored", "name", name, "did_you_mean", near)
		} else {
			d.log.Warn("environment variable matches no configuration key; ignored", "name", name)
		}
	}
}

// serveAdmin listens on admin.listen and serves the admin API of the
// installed generation; the returned function closes it.
func (d *daemon) serveAdmin(f *config.File) (func(), error) {
	ln, err := net.Listen("tcp", f.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin API: listen %s: %w", f.Admin.Listen, err)
	}
	admin := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("admin API stopped", "err", err)
		}
	}()
	d.log.Info("admin API listening", "url", "http://"+ln.Addr().String())
	if d.opts.Listening != nil {
		d.opts.Listening(ln.Addr().String())
	}
	return func() { _ = admin.Close() }, nil
}

// stop stops the running generation gracefully (StopTimeout).
func (d *daemon) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	if cur := d.cur.Load(); cur != nil {
		if err := cur.close(ctx); err != nil {
			d.log.Error("stop", "err", err)
		}
	}
}

// reload builds and validates the new configuration before touching the
// running one; an invalid file is reported and the old configuration
// kept. A valid file that fails to start is reported and the old
// configuration started again. It returns the configuration now running.
func (d *daemon) reload(ctx context.Context, old *config.File) *config.File {
	f, err := d.opts.Load()
	if err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.lastReload.Set(0)
		d.log.Error("configuration reload failed; keeping the running configuration", "err", err)
		return old
	}
	if old.Reference.Enabled {
		// The reference servers keep running; point the new file at them.
		oc := old.Connector()
		var oneURL, custURL string
		if oc.ONe != nil {
			oneURL = oc.ONe.BaseURL
		}
		if oc.CustomerAPI != nil {
			custURL = oc.CustomerAPI.BaseURL
		}
		f.SetReferenceURLs(oneURL, custURL)
	}
	// The new level applies from here, so that the new configuration's
	// start is logged at it; a rollback sets the old one again.
	d.setLevel(f)
	// The state file admits one owner: the running connector stops first.
	sctx, cancel := context.WithTimeout(ctx, StopTimeout)
	defer cancel()
	if err := d.cur.Load().close(sctx); err != nil {
		d.log.Error("stop for reload", "err", err)
	}
	e, err := openEngine(ctx, f, d.log, d.opts.Version, true)
	if err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.lastReload.Set(0)
		d.log.Error("configuration reload failed to start; restarting the previous configuration", "err", err)
		d.setLevel(old)
		prev, perr := openEngine(ctx, old, d.log, d.opts.Version, true)
		if perr != nil {
			d.log.Error("restart of the previous configuration failed", "err", perr)
			return old
		}
		d.install(old, prev)
		d.firstPass(ctx, prev)
		return old
	}
	d.install(f, e)
	d.reloads.WithLabelValues("ok").Inc()
	d.lastReload.Set(1)
	d.warnLogFormat(f)
	d.log.Info("configuration reloaded", "file", f.Name())
	d.firstPass(ctx, e)
	return f
}
