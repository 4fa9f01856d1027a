package sqlerp

import (
	"context"
	"fmt"
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

// BenchmarkListKnown100kSQLite walks 100,000 flagged customers of a SQLite
// file in pages of 500 whose rows all map to what the platforms hold (a
// resync's ERP walk with nothing changed): no row is mapped.
//
//	go test -run '^$' -bench ListKnown100k -benchtime 3x -benchmem ./erp/sqlerp/
func BenchmarkListKnown100kSQLite(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	tab := openSQLite(b)
	recs := erpgen.New(erpgen.Options{Seed: 100}).Records(n)
	for i := range recs {
		recs[i].SyncONe = true
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), DemoTable, recs, time.Now()); err != nil {
		b.Fatal(err)
	}
	digests := make(map[string]uint64, n)
	for after := ""; ; {
		its, err := tab.ListItems(ctx, after, 500)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range its {
			digests[it.Key] = it.Digest
			after = it.Key
		}
		if len(its) < 500 {
			break
		}
	}
	if len(digests) != n {
		b.Fatalf("listed %d customers, want %d", len(digests), n)
	}
	known := func(key string, d uint64) bool { return digests[key] == d }
	b.ReportAllocs()
	for b.Loop() {
		listed := 0
		for after := ""; ; {
			its, err := tab.ListKnownItems(ctx, after, 500, known)
			if err != nil {
				b.Fatal(err)
			}
			for _, it := range its {
				if !it.Known {
					b.Fatalf("customer %s not known", it.Key)
				}
				after = it.Key
			}
			listed += len(its)
			if len(its) < 500 {
				break
			}
		}
		if listed != n {
			b.Fatalf("walked %d customers, want %d", listed, n)
		}
	}
}

// BenchmarkImportSQLite writes customers that came from a platform (no
// ERP key, a platform id) into a SQLite file and reads each back, as the
// pull takes new platform records in: one at a time (Upsert and Get), and
// in batches (UpsertBatch, as the connector's group commit sends the
// writes of deliveries running together).
//
//	go test -run '^$' -bench Import -benchtime 3000x -benchmem ./erp/sqlerp/
func BenchmarkImportSQLite(b *testing.B) {
	ctx := context.Background()
	src := openSQLite(b)
	recs := erpgen.New(erpgen.Options{Seed: 5}).Records(1000)
	for i := range recs {
		recs[i].SyncONe = true
	}
	if err := InsertDemoRecords(ctx, src.DB(), src.Dialect(), DemoTable, recs, time.Now()); err != nil {
		b.Fatal(err)
	}
	p, err := src.Changes(ctx, "", len(recs))
	if err != nil {
		b.Fatal(err)
	}
	var cs []mapping.Customer
	for _, it := range p.Items {
		if it.Err == nil {
			cs = append(cs, it.Customer)
		}
	}
	incoming := func(i int) mapping.Customer {
		c := cs[i%len(cs)]
		c.ERPKey, c.PlatformIDs = "", mapping.PlatformIDs{ONe: fmt.Sprintf("c-%d", i)}
		return c
	}
	for _, batch := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tab := openSQLite(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if batch == 1 {
					key, err := tab.Upsert(ctx, incoming(i))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := tab.Get(ctx, key); err != nil {
						b.Fatal(err)
					}
					i++
					continue
				}
				in := make([]mapping.Customer, batch)
				for j := range in {
					in[j] = incoming(i)
					i++
				}
				out, err := tab.UpsertBatch(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				for _, u := range out {
					if u.Err != nil {
						b.Fatal(u.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/customer")
		})
	}
}
