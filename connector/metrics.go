package connector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// metrics are the connector's own Prometheus series (the queue and pools
// register theirs). Labels never carry record ids.
type metrics struct {
	records     *prometheus.CounterVec // direction, op, outcome
	queued      *prometheus.CounterVec // direction
	runs        *prometheus.CounterVec // run, result
	lastSuccess *prometheus.GaugeVec   // run
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
	}
	if reg != nil {
		reg.MustRegister(m.records, m.queued, m.runs, m.lastSuccess)
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
