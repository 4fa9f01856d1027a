package queue_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

func Example() {
	dir, _ := os.MkdirTemp("", "queue-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := queue.Open(filepath.Join(dir, "state.db"), queue.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// Two versions of one customer: the newer payload replaces the older.
	_ = s.Enqueue(ctx,
		queue.Job{Type: "one.upsert", Key: "one:upsert:C-1", Payload: []byte(`{"name":"Old"}`)},
		queue.Job{Type: "one.upsert", Key: "one:upsert:C-1", Payload: []byte(`{"name":"New"}`)},
	)

	done := make(chan struct{})
	p, err := queue.NewPool(s, queue.PoolOptions{
		Upstream: "one",
		Types:    []string{"one.upsert"},
		Rate:     50, // requests per second
		Burst:    5,
		Handler: func(ctx context.Context, j queue.Job) error {
			fmt.Printf("deliver %s %s (attempt %d)\n", j.Key, j.Payload, j.Attempts)
			close(done)
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = p.Start(ctx)
	<-done
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = p.Stop(stop)

	st, _ := s.Stats(ctx)
	fmt.Println("left in queue:", st.Total())
	// Output:
	// deliver one:upsert:C-1 {"name":"New"} (attempt 1)
	// left in queue: 0
}
