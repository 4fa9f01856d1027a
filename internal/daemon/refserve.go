package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// ReferenceOptions configure ServeReferences.
type ReferenceOptions struct {
	// ONeListen and CustomerListen are the servers' addresses ("": off).
	ONeListen, CustomerListen string
	// ONeTenants are the ONe tenants and their API keys; CustomerUsers the
	// Customer API users and their passwords.
	ONeTenants, CustomerUsers map[string]string
	// Seed seeds generated ids.
	Seed uint64
	// ONeState and CustomerState keep each server's data across restarts
	// ("": in memory only).
	ONeState, CustomerState string
	// Listening, when set, is told each server's name ("ONe",
	// "Customer") and address (host:port) once it listens.
	Listening func(name, addr string)
}

// referenceShutdown bounds the servers' graceful stop.
const referenceShutdown = 5 * time.Second

// ServeReferences serves the reference platform APIs until ctx ends (or a
// server fails), then stops them and saves their data.
func ServeReferences(ctx context.Context, opts ReferenceOptions, log *slog.Logger) error {
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: opts.ONeTenants, Seed: opts.Seed, StatePath: opts.ONeState, Logger: log})
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	defer func() {
		if err := one.Close(); err != nil {
			log.Error("save reference state", "err", err)
		}
	}()
	rs := &refServers{errc: make(chan error, 2), listening: opts.Listening}
	defer rs.close()
	if opts.ONeListen != "" {
		if err := rs.serve("ONe", opts.ONeListen, one); err != nil {
			return err
		}
	}
	if opts.CustomerListen != "" {
		cust, err := customerapitest.Open(customerapitest.Options{Users: opts.CustomerUsers, Seed: opts.Seed,
			StatePath: opts.CustomerState, Logger: log})
		if err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		defer func() {
			if err := cust.Close(); err != nil {
				log.Error("save Customer API reference state", "err", err)
			}
		}()
		if err := rs.serve("Customer", opts.CustomerListen, cust); err != nil {
			return err
		}
	}
	log.Info("reference servers running", "one_tenants", strings.Join(one.TenantNames(), ","), "customer_users", len(opts.CustomerUsers))
	select {
	case <-ctx.Done():
	case err := <-rs.errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), referenceShutdown)
	defer cancel()
	var errs []error
	for _, s := range rs.servers {
		errs = append(errs, s.Shutdown(sctx))
	}
	return errors.Join(errs...)
}

// refServers are the HTTP servers of ServeReferences.
type refServers struct {
	servers   []*http.Server
	errc      chan error
	listening func(name, addr string)
}

func (rs *refServers) serve(name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("reference: listen %s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	rs.servers = append(rs.servers, srv)
	if rs.listening != nil {
		rs.listening(name, ln.Addr().String())
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rs.errc <- fmt.Errorf("reference: %s: %w", name, err)
		}
	}()
	return nil
}

func (rs *refServers) close() {
	for _, s := range rs.servers {
		_ = s.Close()
	}
}
