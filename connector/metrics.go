package connector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// metrics are the connector's own Prometheus series (the queue and pools
// register theirs). Labels never carry record ids.
type metrics struct {
	records     *prometheus.CounterVec // direction, op, outcome
	queued      *prometheus.CounterVec // direction
	runs        *prometheus.CounterVec // run, result
	lastSuccess *prometheus.GaugeVec   // run
	rejected    *prometheus.CounterVec // kind
}

// registerGauges adds the series computed at scrape time.
func (c *Connector) registerGauges(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	// Every job type the configured platforms use, and the ERP's rejected
	// rows, has a dead-letter series from the start.
	deadTypes := []string{rejectType}
	if c.cfg.ONe != nil {
		s := site{prefix: platformPrefixes[mapping.PlatformONe]}
		deadTypes = append(deadTypes, s.pushType(), s.pullType())
	}
	if c.cfg.CustomerAPI != nil {
		s := site{prefix: platformPrefixes[mapping.PlatformCustomerAPI]}
		deadTypes = append(deadTypes, s.pushType(), s.pullType(), s.enrichType())
	}
	reg.MustRegister(queue.NewStatsCollector(c.store, deadTypes...))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpconnector_paused",
		Help: "1 while the scheduled runs are paused (erpconnector pause), 0 otherwise."}, func() float64 {
		if c.Paused() {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpconnector_feed_lag_seconds",
		Help: "Seconds since the ONe feed was last read to its end (0 before the first read)."}, func() float64 {
		c.st.mu.Lock()
		last := c.st.runs[RunFeed].LastSuccess
		c.st.mu.Unlock()
		if last.IsZero() {
			return 0
		}
		return c.now().Sub(last).Seconds()
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpconnector_feed_next_id",
		Help: "The ONe feed cursor (nextId) last stored."}, func() float64 {
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		return float64(c.st.feedNext)
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpconnector_ready",
		Help: "1 when the state is open and every upstream's first poll succeeded."}, func() float64 {
		if ok, _ := c.Ready(); ok {
			return 1
		}
		return 0
	}))
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_records_total",
			Help: "Records delivered, by direction, operation and outcome class."}, []string{"direction", "op", "outcome"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_records_queued_total",
			Help: "Records queued for delivery, by direction."}, []string{"direction"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_runs_total",
			Help: "Pipeline runs, by run and result."}, []string{"run", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "erpconnector_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run, by run."}, []string{"run"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "erpconnector_erp_rejected_total",
			Help: "ERP records that could not be read (kind row) and export files that could not be read at all (kind file), recorded as dead letters."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.queued, m.runs, m.lastSuccess, m.rejected)
	}
	return m
}

func (m *metrics) outcome(direction, op string, err error) {
	m.records.WithLabelValues(direction, op, apierr.Classify(err).String()).Inc()
}

func (m *metrics) runFinished(run string, err error) {
	if err != nil {
		m.runs.WithLabelValues(run, "error").Inc()
		return
	}
	m.runs.WithLabelValues(run, "ok").Inc()
	m.lastSuccess.WithLabelValues(run).SetToCurrentTime()
}
