package queue

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStatsCollector(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	_ = s.Enqueue(ctx, Job{Type: "one.upsert", Key: "a"}, Job{Type: "one.upsert", Key: "b", Lane: LaneBackfill},
		Job{Type: "one.upsert", Key: "c"})
	l := mustLease(t, s, 1)
	if err := s.Fail(ctx, l[0], errors.New("status 400")); err != nil {
		t.Fatal(err)
	}
	_ = mustLease(t, s, 1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewStatsCollector(s, "one.upsert", "one.pull"))
	want := `
# HELP erpconnector_queue_dead_letters Dead letters, by job type.
# TYPE erpconnector_queue_dead_letters gauge
erpconnector_queue_dead_letters{type="one.pull"} 0
erpconnector_queue_dead_letters{type="one.upsert"} 1
# HELP erpconnector_queue_jobs Jobs held by the queue, by lane and state.
# TYPE erpconnector_queue_jobs gauge
erpconnector_queue_jobs{lane="backfill",state="leased"} 0
erpconnector_queue_jobs{lane="backfill",state="ready"} 1
erpconnector_queue_jobs{lane="backfill",state="scheduled"} 0
erpconnector_queue_jobs{lane="backfill",state="waiting"} 0
erpconnector_queue_jobs{lane="live",state="leased"} 1
erpconnector_queue_jobs{lane="live",state="ready"} 0
erpconnector_queue_jobs{lane="live",state="scheduled"} 0
erpconnector_queue_jobs{lane="live",state="waiting"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpconnector_queue_jobs", "erpconnector_queue_dead_letters"); err != nil {
		t.Fatal(err)
	}
}
