package queue

import (
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestKeyJobsTx: a key's job in flight, the newer one pending behind it,
// and its dead letter are found by key; other keys are not.
func TestKeyJobsTx(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxAttempts: 1})
	keyJobs := func(key string) ([]Job, *Job) {
		t.Helper()
		var jobs []Job
		var dead *Job
		if err := s.View(ctx, func(tx *bolt.Tx) error {
			var err error
			jobs, dead, err = s.KeyJobsTx(tx, key)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return jobs, dead
	}
	if err := s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("1")}, Job{Type: "t", Key: "other", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	leased := mustLease(t, s, 1, "t")
	if len(leased) != 1 || leased[0].Key != "k" {
		t.Fatalf("leased %+v", leased)
	}
	if err := s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	jobs, dead := keyJobs("k")
	if len(jobs) != 2 || jobs[0].State != StateLeased || string(jobs[1].Payload) != "2" || dead != nil {
		t.Fatalf("in flight and pending: %+v, dead %+v", jobs, dead)
	}
	if err := s.Fail(ctx, leased[0], errors.New("refused")); err != nil {
		t.Fatal(err)
	}
	jobs, dead = keyJobs("k")
	if len(jobs) != 1 || dead == nil || dead.LastError != "refused" {
		t.Fatalf("after the failure: %+v, dead %+v", jobs, dead)
	}
	if jobs, dead := keyJobs("nope"); len(jobs) != 0 || dead != nil {
		t.Fatalf("unknown key: %+v, %+v", jobs, dead)
	}
}
