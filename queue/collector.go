package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// statsCollector exposes Stats as gauges, read at scrape time.
type statsCollector struct {
	s       *Store
	timeout time.Duration
	jobs    *prometheus.Desc
	dead    *prometheus.Desc
	oldest  *prometheus.Desc
	// deadTypes always have a dead-letter series (0 without any).
	deadTypes []string
	errors    *prometheus.Desc
}

// NewStatsCollector returns a collector that reads the store's Stats on each
// scrape: jobs by lane and state, dead letters by type and the age of the
// oldest ready job. Each of deadTypes has its dead-letter series from the
// first scrape on, at 0 while it has none (an alert compares it with an
// hour ago). Register it on the daemon's own registry.
func NewStatsCollector(s *Store, deadTypes ...string) prometheus.Collector {
	return &statsCollector{
		s:         s,
		deadTypes: deadTypes,
		timeout:   5 * time.Second,
		jobs: prometheus.NewDesc("erpconnector_queue_jobs", "Jobs held by the queue, by lane and state.",
			[]string{"lane", "state"}, nil),
		dead: prometheus.NewDesc("erpconnector_queue_dead_letters", "Dead letters, by job type.",
			[]string{"type"}, nil),
		oldest: prometheus.NewDesc("erpconnector_queue_oldest_ready_seconds",
			"How long the oldest ready job has been waiting to be leased.", nil, nil),
		errors: prometheus.NewDesc("erpconnector_queue_stats_up", "1 when the queue's stats could be read.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.dead
	ch <- c.oldest
	ch <- c.errors
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.s.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, 1)
	for _, lane := range []Lane{LaneLive, LaneBackfill} {
		n := st.ByLane[lane.String()]
		for state, v := range map[string]int{"ready": n.Ready, "scheduled": n.Scheduled, "waiting": n.Waiting, "leased": n.Leased} {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(v), lane.String(), state)
		}
	}
	for typ, n := range st.DeadByType {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n), typ)
	}
	for _, typ := range c.deadTypes {
		if _, ok := st.DeadByType[typ]; !ok {
			ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, 0, typ)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.OldestReady.Seconds())
}
