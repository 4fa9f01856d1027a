package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash workload: crashJobs jobs in crashChunks chunks, enqueued as a
// resumable migration while a pool works them. Half the jobs have a key of
// their own ("u<g>"); the other half share crashShared keys ("s<k>"), each
// enqueued in crashVersions versions (seq 0..4) in increasing chunk order.
const (
	crashChildEnv  = "QUEUE_CRASH_CHILD_DIR"
	crashJobs      = 50_000
	crashChunks    = 100
	crashShared    = 5_000
	crashVersions  = 5
	crashMigration = "crash"
)

func crashChunk(c int) []Job {
	per := crashJobs / crashChunks
	jobs := make([]Job, 0, per)
	for i := range per {
		g := c*per + i
		var key string
		var seq int
		if g%2 == 0 {
			key, seq = fmt.Sprintf("u%d", g), 0
		} else {
			h := g / 2 // 0..24999
			key, seq = fmt.Sprintf("s%d", h%crashShared), h/crashShared
		}
		lane := LaneLive
		if g%3 == 0 {
			lane = LaneBackfill
		}
		jobs = append(jobs, Job{Type: "crash.work", Key: key, Lane: lane, Payload: []byte(key + " " + strconv.Itoa(seq))})
	}
	return jobs
}

// crashChild is the child process: it resumes the migration, works the
// queue until it is empty, and exits 0. The parent kills it at random.
func crashChild() int {
	dir := os.Getenv(crashChildEnv)
	ctx := context.Background()
	s, err := Open(filepath.Join(dir, "state.db"), Options{LeaseTimeout: 5 * time.Second, MaxAttempts: 1000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	logf, err := os.OpenFile(filepath.Join(dir, "handled.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer logf.Close()
	p, err := NewPool(s, PoolOptions{Upstream: "crash", Types: []string{"crash.work"}, Workers: 4, Rate: 8_000, Burst: 100,
		Handler: func(_ context.Context, j Job) error {
			// One write per job: the kernel has it before the ack commits.
			_, err := logf.Write(append(j.Payload, '\n'))
			return err
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// A finished migration is not begun again (that would start it over).
	m, err := s.Migration(ctx, crashMigration)
	if errors.Is(err, ErrNotFound) {
		m, err = s.BeginMigration(ctx, crashMigration, Plan{TotalChunks: crashChunks, TotalRecords: crashJobs})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := p.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	next := 0
	if m.Position != "" {
		next, _ = strconv.Atoi(m.Position)
		next++
	}
	for c := next; c < crashChunks && !m.Done(); c++ {
		if _, err := s.Advance(ctx, crashMigration, Chunk{Position: strconv.Itoa(c), Jobs: crashChunk(c)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !m.Done() {
		if _, err := s.FinishMigration(ctx, crashMigration); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	for {
		st, err := s.Stats(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if st.Total() == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Stop(stop); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func runCrashChild(t *testing.T, dir string, killAfter time.Duration) (killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if killAfter > 0 {
		timeout = time.After(killAfter)
	} else {
		timeout = time.After(80 * time.Second)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child failed: %v\n%s", err, stderr.String())
		}
		return false
	case <-timeout:
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if killAfter == 0 {
			t.Fatalf("child did not finish in time\n%s", stderr.String())
		}
		return true
	}
}

func TestCrashRecoveryWithSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns subprocesses; run without -short")
	}
	dir := t.TempDir()
	kills := 0
	for kills < 6 {
		if !runCrashChild(t, dir, time.Duration(100+rand.IntN(300))*time.Millisecond) {
			t.Fatalf("child finished the whole workload before kill %d; the workload must outlast the kills", kills+1)
		}
		kills++
	}
	runCrashChild(t, dir, 0) // to completion
	t.Logf("SIGKILLed %d times", kills)

	// Everything in the queue is done: nothing ready, leased, waiting or dead.
	s, err := Open(filepath.Join(dir, "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, s)
	m, err := s.Migration(context.Background(), crashMigration)
	_ = s.Close()
	if err != nil || !m.Done() || m.ChunksDone != crashChunks || m.RecordsDone != crashJobs {
		t.Fatalf("migration %+v %v", m, err)
	}
	if st.Total() != 0 || st.Dead != 0 {
		t.Fatalf("queue not drained: %+v dead %d", st.Counts, st.Dead)
	}

	// What the handler saw, outside the queue.
	f, err := os.Open(filepath.Join(dir, "handled.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := map[string]int{}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, seqS, ok := strings.Cut(sc.Text(), " ")
		seq, err := strconv.Atoi(seqS)
		if !ok || err != nil {
			t.Fatalf("malformed log line %d: %q", lines+1, sc.Text())
		}
		lines++
		// Per-key order: a key's versions are handled in non-decreasing
		// order (a repeat after a crash is the same version again).
		if prev, seen := last[key]; seen && seq < prev {
			t.Fatalf("key %s: version %d handled after version %d", key, seq, prev)
		}
		last[key] = seq
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// None lost: every own-key job was handled, and every shared key's last
	// version was handled (older versions may be coalesced into it).
	for g := 0; g < crashJobs; g += 2 {
		if _, ok := last[fmt.Sprintf("u%d", g)]; !ok {
			t.Fatalf("job u%d never handled", g)
		}
	}
	for k := range crashShared {
		if got, ok := last[fmt.Sprintf("s%d", k)]; !ok || got != crashVersions-1 {
			t.Fatalf("key s%d: last handled version %d (seen %v), want %d", k, got, ok, crashVersions-1)
		}
	}
	t.Logf("handled %d lines for %d keys (%d duplicates or superseded versions)", lines, len(last), lines-len(last))
}
