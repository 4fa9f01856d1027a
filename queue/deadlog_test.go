package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

// logLines decodes the JSON log lines the pool's workers and the store wrote.
func logLines(t *testing.T, l *syncbuf.Buffer) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestDeadLetterLoggedOnce: a job that reaches the dead letters, refused at
// once or out of attempts, is logged once, at warn, with its key.
func TestDeadLetterLoggedOnce(t *testing.T) {
	var buf syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := openTest(t, Options{MaxAttempts: 2, Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond}, Logger: log})
	ctx := context.Background()
	if err := s.Enqueue(ctx, Job{Type: "one.upsert", Key: "refused"}, Job{Type: "one.upsert", Key: "flaky"}); err != nil {
		t.Fatal(err)
	}
	p := startPool(t, s, PoolOptions{Workers: 2, Logger: log, Handler: func(ctx context.Context, j Job) error {
		if j.Key == "refused" {
			return apierr.Permanently(errors.New("name: must not be blank"))
		}
		return apierr.Temporarily(errors.New("try later"))
	}})
	waitEmptyOrDead(t, s, 10*time.Second)
	stopPool(t, p)

	warns, keys := map[float64]int{}, map[string]int{}
	for _, l := range logLines(t, &buf) {
		if l["level"] == "WARN" {
			id, _ := l["job_id"].(float64)
			warns[id]++
			if k, ok := l["key"].(string); ok {
				keys[k]++
			}
		}
	}
	if len(warns) != 2 {
		t.Fatalf("warnings for jobs %v, want one for each of the two dead letters", warns)
	}
	for id, n := range warns {
		if n != 1 {
			t.Errorf("job %v: %d warnings, want the one of its dead letter", id, n)
		}
	}
	for _, k := range []string{"refused", "flaky"} {
		if keys[k] != 1 {
			t.Errorf("%s: its dead letter's warning does not name its key (keys: %v)", k, keys)
		}
	}
}
