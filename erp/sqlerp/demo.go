package sqlerp

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
)

// DemoTable is the name of the demo customer table.
const DemoTable = "erp_customers"

// demoTypes gives the demo columns that are not text their type.
func demoType(d Dialect, col string) string {
	switch col {
	case "credit_limit":
		return d.NumericType
	case "latitude", "longitude":
		return d.FloatType
	}
	return "TEXT"
}

// DemoConfig returns the configuration of the demo ERP layout (erpgen) on
// table in a database reached through driver and dsn.
func DemoConfig(driver, dsn, table string) Config {
	return Config{
		Driver:        driver,
		DSN:           dsn,
		Table:         table,
		KeyColumn:     erpgen.KeyColumn,
		Rules:         erpgen.Rules(),
		Flags:         []PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.SyncONeColumn}, {Platform: mapping.PlatformCustomerAPI, Column: erpgen.SyncCustomerAPI}},
		CursorColumn:  erpgen.UpdatedAtColumn,
		CursorKind:    CursorTimestamp,
		DeletedColumn: erpgen.DeletedColumn,
		WriteBack:     []PlatformColumn{{Platform: mapping.PlatformONe, Column: erpgen.ONeIDColumn}, {Platform: mapping.PlatformCustomerAPI, Column: erpgen.CustomerAPIColumn}},
	}
}

// CreateDemoSchema creates the demo customer table and its change index.
func CreateDemoSchema(ctx context.Context, db *sql.DB, d Dialect, table string) error {
	qt, err := QuoteIdent(table)
	if err != nil {
		return err
	}
	idx, err := QuoteIdent(strings.ReplaceAll(table, ".", "_") + "_changes")
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n  %q TEXT PRIMARY KEY", qt, erpgen.KeyColumn)
	for _, c := range erpgen.Columns() {
		fmt.Fprintf(&b, ",\n  %q %s", c, demoType(d, c))
	}
	fmt.Fprintf(&b, ",\n  %q BOOLEAN NOT NULL DEFAULT FALSE", erpgen.SyncONeColumn)
	fmt.Fprintf(&b, ",\n  %q BOOLEAN NOT NULL DEFAULT FALSE", erpgen.SyncCustomerAPI)
	fmt.Fprintf(&b, ",\n  %q BOOLEAN NOT NULL DEFAULT FALSE", erpgen.DeletedColumn)
	fmt.Fprintf(&b, ",\n  %q TEXT", erpgen.ONeIDColumn)
	fmt.Fprintf(&b, ",\n  %q TEXT", erpgen.CustomerAPIColumn)
	fmt.Fprintf(&b, ",\n  %q %s NOT NULL\n)", erpgen.UpdatedAtColumn, d.TimestampType)
	if _, err := db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("sqlerp: create demo schema: %w", err)
	}
	// The change cursor walks (updated-at, key); inbound customers are found
	// by their platform ids, so those columns are indexed too.
	ixs := []string{
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%q, %q)", idx, qt, erpgen.UpdatedAtColumn, erpgen.KeyColumn),
	}
	if d.Name == "sqlite" {
		// SQLite compares updated-at through sqliteTime: index that too.
		ix, err := ChangesIndex(DemoConfig(d.Driver, "", table), strings.ReplaceAll(table, ".", "_")+"_changes_at")
		if err != nil {
			return fmt.Errorf("sqlerp: create demo schema: %w", err)
		}
		ixs = append(ixs, ix)
	}
	for _, col := range []string{erpgen.ONeIDColumn, erpgen.CustomerAPIColumn} {
		name, err := QuoteIdent(strings.ReplaceAll(table, ".", "_") + "_" + col + "_idx")
		if err != nil {
			return fmt.Errorf("sqlerp: create demo schema: %w", err)
		}
		ixs = append(ixs, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%q)", name, qt, col))
	}
	for _, ix := range ixs {
		if _, err := db.ExecContext(ctx, ix); err != nil {
			return fmt.Errorf("sqlerp: create demo schema: %w", err)
		}
	}
	return nil
}

// InsertDemoRecords writes generated records into the demo table as the ERP
// would (insert or replace), all with updated-at at, in batches of one
// transaction each.
func InsertDemoRecords(ctx context.Context, db *sql.DB, d Dialect, table string, recs []erpgen.Record, at time.Time) error {
	qt, err := QuoteIdent(table)
	if err != nil {
		return err
	}
	cols := []string{erpgen.KeyColumn}
	cols = append(cols, erpgen.Columns()...)
	cols = append(cols, erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn, erpgen.UpdatedAtColumn)
	var qc, ph, sets []string
	for i, c := range cols {
		qc = append(qc, fmt.Sprintf("%q", c))
		ph = append(ph, d.Placeholder(i+1))
		if i > 0 {
			sets = append(sets, fmt.Sprintf("%q = excluded.%q", c, c))
		}
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%q) DO UPDATE SET %s", qt, strings.Join(qc, ", "),
		strings.Join(ph, ", "), erpgen.KeyColumn, strings.Join(sets, ", "))
	const batch = 2000
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		if err := insertBatch(ctx, db, q, recs[start:end], at.UTC(), len(cols)); err != nil {
			return fmt.Errorf("sqlerp: insert demo records: %w", err)
		}
	}
	return nil
}

func insertBatch(ctx context.Context, db *sql.DB, q string, recs []erpgen.Record, at time.Time, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer st.Close()
	args := make([]any, 0, n)
	for _, r := range recs {
		args = append(args[:0], r.Key)
		for _, v := range r.Values {
			if v == "" {
				args = append(args, nil)
			} else {
				args = append(args, v)
			}
		}
		args = append(args, r.SyncONe, r.SyncCustomerAPI, r.Deleted, at)
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("record %q: %w", r.Key, err)
		}
	}
	return tx.Commit()
}
