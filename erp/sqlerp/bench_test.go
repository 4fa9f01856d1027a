package sqlerp

import (
	"context"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
)

// BenchmarkStream100kSQLite streams 100,000 flagged customers out of a
// SQLite file in pages of 1,000, through the field rules, validation and
// the ONe content hash, as the ERP → ONe pipeline does.
//
//	go test -run '^$' -bench Stream100k -benchtime 3x -benchmem ./erp/sqlerp/
func BenchmarkStream100kSQLite(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	tab := openSQLite(b)
	recs := erpgen.New(erpgen.Options{Seed: 100, InvalidEvery: 50}).Records(n)
	for i := range recs {
		if !recs[i].Flagged() {
			recs[i].SyncONe = true
		}
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), DemoTable, recs, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var total, invalid int
	start := time.Now()
	for b.Loop() {
		cur := ""
		for {
			p, err := tab.Changes(ctx, cur, 1000)
			if err != nil {
				b.Fatal(err)
			}
			for _, it := range p.Items {
				total++
				if it.Err != nil {
					invalid++
					continue
				}
				if _, err := mapping.HashONe(it.Customer); err != nil {
					b.Fatal(err)
				}
			}
			cur = p.Cursor
			if !p.More {
				break
			}
		}
	}
	elapsed := time.Since(start)
	if total != n*b.N {
		b.Fatalf("streamed %d records, want %d", total, n*b.N)
	}
	if invalid != n/50*b.N {
		b.Fatalf("%d invalid records, want %d", invalid, n/50*b.N)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(n), "records/op")
}
