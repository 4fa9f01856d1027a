package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/config"
)

// engine is one generation of the connector with its ERP adapter and
// metrics.
type engine struct {
	conn      *connector.Connector
	erp       erp.Adapter
	reg       *prometheus.Registry
	closeOnce sync.Once
	closeErr  error
}

// openEngine opens the ERP (seeding a demo ERP) and builds the connector;
// start also starts it. Without start, an ERP that cannot be opened is
// logged and replaced by erp.Unavailable: a command that reads or changes
// only the connector's own state works while the ERP is down.
func openEngine(ctx context.Context, f *config.File, log *slog.Logger, version string, start bool) (*engine, error) {
	adapter, err := f.OpenERP(ctx, log)
	switch {
	case err != nil && !start:
		log.Warn("the ERP is unavailable; showing the connector's own state", "err", err)
		adapter = erp.Unavailable(err)
	case err != nil:
		return nil, err
	}
	if f.IsDemo() {
		n, err := f.SeedDemo(ctx, adapter)
		if err != nil {
			closeERP(adapter)
			return nil, err
		}
		if n > 0 {
			log.Info("demo ERP seeded", "customers", n)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	conn, err := connector.New(connector.Options{Config: f.Connector(), ERP: adapter, Logger: log, Registerer: reg, Version: version})
	if err != nil {
		closeERP(adapter)
		return nil, err
	}
	e := &engine{conn: conn, erp: adapter, reg: reg}
	if start {
		if err := conn.Start(ctx); err != nil {
			_ = e.close(context.Background())
			return nil, err
		}
	}
	return e, nil
}

// close stops the connector (waiting for in-flight work until ctx ends)
// and closes the ERP; a second close does nothing.
func (e *engine) close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.closeErr = e.conn.Stop(ctx)
		closeERP(e.erp)
	})
	return e.closeErr
}

func closeERP(a erp.Adapter) {
	if c, ok := a.(erp.Closer); ok {
		_ = c.Close()
	}
}

// SeedDemo creates the demo ERP of a demo configuration and seeds it when
// it is empty; it returns how many customers it wrote.
func SeedDemo(ctx context.Context, f *config.File, log *slog.Logger) (int, error) {
	a, err := f.OpenERP(ctx, log)
	if err != nil {
		return 0, err
	}
	defer closeERP(a)
	return f.SeedDemo(ctx, a)
}
