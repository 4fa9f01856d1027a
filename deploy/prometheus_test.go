package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	alertsFile     = "prometheus/alerts.yaml"
	alertTestsFile = "prometheus/alerts_test.yaml"
	promConfigFile = "prometheus/prometheus.example.yaml"
	dashboardFile  = "grafana/erpconnector.json"
)

// promtool runs promtool with args and fails the test unless it succeeds.
func promtool(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlertRules: promtool accepts the rules and their unit tests pass
// (each alert fires on its series and stays quiet on the others).
func TestAlertRules(t *testing.T) {
	bin := requireTool(t, "promtool", "prometheus")
	promtool(t, bin, ".", "check", "rules", alertsFile)
	promtool(t, bin, ".", "test", "rules", alertTestsFile)
}

// TestAlertRulesAreUnitTested: every alert has a unit test with an
// evaluation where it fires and one where it does not.
func TestAlertRulesAreUnitTested(t *testing.T) {
	fires, quiet := map[string]bool{}, map[string]bool{}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, alertTestsFile, &tests)
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		if !fires[r.Alert] || !quiet[r.Alert] {
			t.Errorf("%s: unit-tested firing %v, quiet %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
	}
}

// TestPrometheusExampleConfig: promtool accepts the example configuration
// (with the alerting rules), and its Kubernetes job reads the annotations
// and the label the StatefulSet's pods carry. Debian's promtool is built
// without Kubernetes service discovery, so that job is checked here and
// left out of the copy promtool checks; the token file is a temporary one.
func TestPrometheusExampleConfig(t *testing.T) {
	var cfg map[string]any
	readYAML(t, promConfigFile, &cfg)
	jobs, _ := cfg["scrape_configs"].([]any)
	if len(jobs) == 0 {
		t.Fatal("no scrape_configs")
	}
	jobRE := regexp.MustCompile(`^erpconnector.*$`) // the jobs alerts.yaml's up{job=~"erpconnector.*"} selects
	var kept []any
	var kube map[string]any
	token := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(token, []byte("change-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		job := j.(map[string]any)
		name, _ := job["job_name"].(string)
		if !jobRE.MatchString(name) {
			t.Errorf("job %q: the alerts select jobs named erpconnector*", name)
		}
		auth, _ := job["authorization"].(map[string]any)
		if auth == nil || auth["credentials_file"] == nil {
			t.Errorf("job %q sends no bearer token: /metrics needs admin.token", name)
		} else {
			auth["credentials_file"] = token
		}
		if _, ok := job["kubernetes_sd_configs"]; ok {
			kube = job
			continue
		}
		kept = append(kept, job)
	}
	if kube == nil {
		t.Error("no job for the Kubernetes pods")
	} else {
		byKind, _ := kubeManifests(t, kubeDir)
		sts := one(t, byKind, "StatefulSet")
		var spec statefulSetSpec
		if err := sts.Spec.Decode(&spec); err != nil {
			t.Fatal(err)
		}
		var sources []string
		keepLabel := ""
		for _, r := range kube["relabel_configs"].([]any) {
			rc := r.(map[string]any)
			for _, s := range rc["source_labels"].([]any) {
				sources = append(sources, s.(string))
			}
			if rc["action"] == "keep" && slices.Contains(rc["source_labels"].([]any), any("__meta_kubernetes_pod_label_app_kubernetes_io_name")) {
				keepLabel, _ = rc["regex"].(string)
			}
		}
		sanitize := regexp.MustCompile(`[^a-zA-Z0-9_]`)
		for a := range spec.Template.Metadata.Annotations {
			if !strings.HasPrefix(a, "prometheus.io/") {
				continue
			}
			meta := "__meta_kubernetes_pod_annotation_" + sanitize.ReplaceAllString(a, "_")
			if !slices.Contains(sources, meta) {
				t.Errorf("the Kubernetes job does not read the pods' annotation %s (%s)", a, meta)
			}
		}
		if name := spec.Template.Metadata.Labels["app.kubernetes.io/name"]; keepLabel == "" ||
			!regexp.MustCompile("^(?:"+keepLabel+")$").MatchString(name) {
			t.Errorf("the Kubernetes job keeps app.kubernetes.io/name=~%q; the pods carry %q", keepLabel, name)
		}
	}

	bin := requireTool(t, "promtool", "prometheus")
	dir := t.TempDir()
	cfg["scrape_configs"] = kept
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(alertsFile)), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, bin, dir, "check", "config", "prometheus.yaml")
}

// alertRule is one rule of alerts.yaml.
type alertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

// alertRules reads every rule of alerts.yaml.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var doc struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, alertsFile, &doc)
	var out []alertRule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no rules", alertsFile)
	}
	return out
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestREADMEListsEveryAlert keeps the README's alert table in step with
// alerts.yaml, and every deploy/ path the README names in existence.
func TestREADMEListsEveryAlert(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	inTable := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(Erpconnector[A-Za-z]+)` \\|").FindAllStringSubmatch(readme, -1) {
		inTable[m[1]] = true
	}
	for _, r := range alertRules(t) {
		if !inTable[r.Alert] {
			t.Errorf("README's alert table lacks %s", r.Alert)
		}
		delete(inTable, r.Alert)
	}
	for a := range inTable {
		t.Errorf("README's alert table lists %s, which alerts.yaml does not hold", a)
	}
	for _, m := range regexp.MustCompile("`(deploy/[^` ]+)`").FindAllStringSubmatch(readme, -1) {
		p := strings.TrimSuffix(m[1], "/")
		if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
			t.Errorf("README names %s: %v", m[1], err)
		}
	}
}
