// Package deploy holds the files that run erpconnector in production and
// the tests that hold them to the daemon: the systemd units (systemd/), the
// container image (Dockerfile), the Kubernetes example (kubernetes/), the
// Prometheus alerting rules and example configuration (prometheus/) and the
// Grafana dashboard (grafana/).
//
// The tests check the files against each other and against the daemon
// itself: the Kubernetes configuration is loaded and validated by the
// daemon's own loader, the units are checked by systemd-analyze, the rules
// by promtool, and every metric a rule or a dashboard panel queries must
// appear on the /metrics of a daemon run from the demo configuration.
// systemd-analyze and promtool are required when CI=true and skipped
// otherwise.
package deploy
