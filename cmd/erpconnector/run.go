package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
)

// stopTimeout bounds a graceful stop: in-flight deliveries get this long.
const stopTimeout = 8 * time.Second

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the connector daemon (default config: configs/demo.yaml)",
		Long: `Run the connector: the schedules, the delivery workers and the admin API.
SIGINT or SIGTERM stops it gracefully; SIGHUP reloads the configuration file
(an invalid file is reported and the running configuration is kept).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return runDaemon(cmd.Context(), g, hup)
		},
	}
}

// daemon holds the running generation and serves the admin API for it.
type daemon struct {
	g       *globals
	log     *slog.Logger
	cur     atomic.Pointer[engine]
	reloads *prometheus.CounterVec
	reg     *prometheus.Registry // the daemon's own series (reloads)
	handler atomic.Pointer[http.Handler]
}

func (d *daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := d.handler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

func (d *daemon) install(f *config.File, e *engine) {
	gath := prometheus.Gatherers{e.reg, d.reg}
	h := e.conn.AdminHandler(connector.AdminOptions{Token: f.Admin.Token, Gatherer: gath, Listen: f.Admin.Listen})
	d.cur.Store(e)
	d.handler.Store(&h)
}

func runDaemon(ctx context.Context, g *globals, hup <-chan os.Signal) error {
	f, err := g.load()
	if err != nil {
		return err
	}
	log := f.NewLogger(g.stderr)
	for _, name := range f.UnknownEnv() {
		if near := config.NearestEnv(name); near != "" {
			log.Warn("environment variable matches no configuration key; ignored", "name", name, "did_you_mean", near)
		} else {
			log.Warn("environment variable matches no configuration key; ignored", "name", name)
		}
	}
	refs, err := startReferences(f, log)
	if err != nil {
		return err
	}
	defer refs.close(context.Background())

	d := &daemon{g: g, log: log}
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_config_reloads_total",
		Help: "Configuration reloads, by result."}, []string{"result"})
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(d.reloads)

	e, err := startEngine(ctx, f, log, true)
	if err != nil {
		return err
	}
	d.install(f, e)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if cur := d.cur.Load(); cur != nil {
			if err := cur.close(sctx); err != nil {
				log.Error("stop", "err", err)
			}
		}
	}()

	ln, err := net.Listen("tcp", f.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin API: listen %s: %w", f.Admin.Listen, err)
	}
	admin := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin API stopped", "err", err)
		}
	}()
	defer admin.Close()
	log.Info("admin API listening", "url", "http://"+ln.Addr().String())
	fmt.Fprintf(g.stdout, "erpconnector running; admin API on http://%s (status: erpconnector status --config %s)\n", ln.Addr(), f.Path())

	if f.IsDemo() {
		refs.registerStorefrontClients(f.Reference.ONeTenant, f.Demo.StorefrontRegistrations, log)
		refs.publishFarmCertificates(ctx, e.erp, log)
	}
	// A first pass right away, then the schedules take over.
	go func() {
		if err := e.conn.SyncOnce(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("first sync", "err", err)
		}
	}()

	for {
		select {
		case <-ctx.Done():
			log.Info("stopping")
			return nil
		case <-hup:
			d.reload(ctx, f)
		}
	}
}

// reload builds and validates the new configuration before touching the
// running one; an invalid file is reported and the old configuration kept.
func (d *daemon) reload(ctx context.Context, old *config.File) {
	f, err := config.LoadValid(d.g.configPath, os.Environ())
	if err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.log.Error("configuration reload failed; keeping the running configuration", "err", err)
		return
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
	cur := d.cur.Load()
	sctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	// The state file admits one owner: the running connector stops first.
	if err := cur.close(sctx); err != nil {
		d.log.Error("stop for reload", "err", err)
	}
	e, err := startEngine(ctx, f, d.log, true)
	if err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.log.Error("configuration reload failed to start; restarting the previous configuration", "err", err)
		prev, perr := startEngine(ctx, old, d.log, true)
		if perr != nil {
			d.log.Error("restart of the previous configuration failed", "err", perr)
			return
		}
		d.install(old, prev)
		return
	}
	d.install(f, e)
	d.reloads.WithLabelValues("ok").Inc()
	d.log.Info("configuration reloaded", "file", f.Path())
}
