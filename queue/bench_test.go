package queue

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func benchJobs(from, n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		k := fmt.Sprintf("one:upsert:C-%d", from+i)
		jobs[i] = Job{Type: "one.upsert", Key: k, Payload: []byte(`{"externalId":"` + k + `","name":"Customer"}`)}
	}
	return jobs
}

func enqueueBatches(b testing.TB, s *Store, n, batch int) {
	for i := 0; i < n; i += batch {
		if err := s.Enqueue(context.Background(), benchJobs(i, min(batch, n-i))...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueueBatch: durable commits of 1,000 jobs each.
func BenchmarkEnqueueBatch(b *testing.B) {
	s := openTest(b, Options{})
	b.ResetTimer()
	enqueueBatches(b, s, b.N, 1000)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkLeaseAck: lease 256 in one transaction, ack them in another.
func BenchmarkLeaseAck(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, Options{})
	enqueueBatches(b, s, b.N, 1000)
	b.ResetTimer()
	done := 0
	for done < b.N {
		jobs, err := s.Lease(ctx, 256)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(ctx, jobs...); err != nil {
			b.Fatal(err)
		}
		done += len(jobs)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// runPool pushes n jobs through a pool with a no-op handler; with produce
// set, the jobs are enqueued (batches of 1,000) while the pool works, and
// when backlog > 0 the producer waits while more than backlog jobs are
// queued (as a paced migration does).
func runPool(b *testing.B, s *Store, n int, produce bool, backlog int) {
	ctx := context.Background()
	var handled atomic.Int64
	all := make(chan struct{})
	p, err := NewPool(s, PoolOptions{Upstream: "bench", Types: []string{"one.upsert"}, Workers: 4,
		Handler: func(context.Context, Job) error {
			if handled.Add(1) == int64(n) {
				close(all)
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	if !produce {
		enqueueBatches(b, s, n, 1000)
	}
	b.ResetTimer()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if produce {
		for i := 0; i < n; i += 1000 {
			for backlog > 0 && int64(i)-handled.Load() > int64(backlog) {
				time.Sleep(time.Millisecond)
			}
			if err := s.Enqueue(ctx, benchJobs(i, min(1000, n-i))...); err != nil {
				b.Fatal(err)
			}
		}
	}
	<-all
	stop, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.Stop(stop); err != nil { // commits the last acks
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkPoolEndToEnd: jobs already queued, worked by a 4-worker pool with
// a no-op handler (lease, handle, ack, durable batched commits).
func BenchmarkPoolEndToEnd(b *testing.B) {
	s := openTest(b, Options{})
	runPool(b, s, b.N, false, 0)
}

// BenchmarkPoolEnqueueAndDeliver: enqueue in batches while the pool works.
func BenchmarkPoolEnqueueAndDeliver(b *testing.B) {
	s := openTest(b, Options{})
	runPool(b, s, b.N, true, 0)
}

// BenchmarkMillionJobsFileSize runs 1,000,000 jobs per iteration through
// enqueue and the pool and reports the file size afterwards. The file holds
// the peak backlog's pages (free pages are reused, never returned), so it is
// measured with an unbounded producer and with one that keeps at most
// 50,000 jobs queued. Run with -benchtime=1x.
func BenchmarkMillionJobsFileSize(b *testing.B) {
	for _, backlog := range []int{0, 50_000} {
		name := "backlog=unbounded"
		if backlog > 0 {
			name = fmt.Sprintf("backlog=%d", backlog)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				s := openTest(b, Options{})
				runPool(b, s, 1_000_000, true, backlog)
				fi, err := os.Stat(s.Path())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
			}
		})
	}
}
