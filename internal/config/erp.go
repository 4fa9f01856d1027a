package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/fileerp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
)

// IsDemo reports whether the file runs the demo: the embedded reference
// servers are enabled.
func (f *File) IsDemo() bool { return f.Reference.Enabled }

// OpenERP opens the configured ERP adapter. For a demo file with the sql
// adapter it creates the SQLite file's directory and the demo table
// (sqlerp.CreateDemoSchema) when they do not exist; otherwise a SQLite file
// that does not exist is an error (SQLite would silently create an empty
// one). The sql adapter implements erp.Closer; the caller closes it.
func (f *File) OpenERP(ctx context.Context, log *slog.Logger) (erp.Adapter, error) {
	switch f.ERP.Adapter {
	case AdapterSQL:
		cfg := f.ERP.SQL.Config
		d, err := sqlerp.DialectFor(cfg.Driver)
		if err != nil {
			return nil, fmt.Errorf("config: open erp: %w", err)
		}
		if p := sqliteFile(cfg.DSN); d.Name == "sqlite" && p != "" {
			if f.IsDemo() {
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					return nil, fmt.Errorf("config: open erp: %w", err)
				}
			} else if _, err := os.Stat(p); err != nil {
				// SQLite would create an empty database: a wrong path must
				// not look like an ERP without customers.
				return nil, fmt.Errorf("config: open erp: erp.sql.dsn: %w", err)
			}
		}
		t, err := sqlerp.Open(ctx, cfg, log)
		if err != nil {
			return nil, fmt.Errorf("config: open erp: %w", err)
		}
		if f.IsDemo() {
			if err := sqlerp.CreateDemoSchema(ctx, t.DB(), t.Dialect(), cfg.Table); err != nil {
				_ = t.Close()
				return nil, fmt.Errorf("config: open erp: %w", err)
			}
		}
		return t, nil
	case AdapterFiles:
		fo, err := fileerp.Open(ctx, f.ERP.Files, log)
		if err != nil {
			return nil, fmt.Errorf("config: open erp: %w", err)
		}
		return fo, nil
	}
	return nil, fmt.Errorf("config: open erp: unknown adapter %q", f.ERP.Adapter)
}

// sqliteFile returns the file of a SQLite DSN ("" for an in-memory database).
func sqliteFile(dsn string) string {
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return ""
	}
	p := strings.TrimPrefix(dsn, "file:")
	p, _, _ = strings.Cut(p, "?")
	return p
}

// SeedDemo writes demo.seed_customers generated customers (erpgen, seeded
// with reference.seed, a defect in every demo.invalid_every-th) into the
// demo ERP table opened by OpenERP, only when the table is empty. It
// returns how many customers it wrote.
func (f *File) SeedDemo(ctx context.Context, a erp.Adapter) (int, error) {
	n := f.Demo.SeedCustomers
	if n <= 0 {
		return 0, nil
	}
	t, ok := a.(*sqlerp.Table)
	if !ok {
		return 0, errors.New("config: seed demo: the demo ERP must be the sql adapter")
	}
	qt, err := sqlerp.QuoteIdent(f.ERP.SQL.Table)
	if err != nil {
		return 0, fmt.Errorf("config: seed demo: %w", err)
	}
	var count int
	if err := t.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qt).Scan(&count); err != nil {
		return 0, fmt.Errorf("config: seed demo: count: %w", err)
	}
	if count > 0 {
		return 0, nil
	}
	recs := erpgen.New(erpgen.Options{Seed: f.Reference.Seed, InvalidEvery: f.Demo.InvalidEvery}).Records(n)
	if err := sqlerp.InsertDemoRecords(ctx, t.DB(), t.Dialect(), f.ERP.SQL.Table, recs, time.Now()); err != nil {
		return 0, fmt.Errorf("config: seed demo: %w", err)
	}
	return n, nil
}
