package deploy

import (
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/erpconnector/erpconnector/internal/config"
)

const kubeDir = "kubernetes"

// The parts of the Kubernetes objects the tests read.
type (
	kubeObject struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   kubeMeta          `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
		Spec       yaml.Node         `yaml:"spec"`
		Resources  []string          `yaml:"resources"` // kustomization
	}
	kubeMeta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	statefulSetSpec struct {
		ServiceName string `yaml:"serviceName"`
		Replicas    *int   `yaml:"replicas"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata kubeMeta `yaml:"metadata"`
			Spec     podSpec  `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata kubeMeta `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot bool  `yaml:"runAsNonRoot"`
			RunAsUser    int64 `yaml:"runAsUser"`
			FSGroup      int64 `yaml:"fsGroup"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name  string `yaml:"name"`
				Items []struct {
					Key  string `yaml:"key"`
					Path string `yaml:"path"`
				} `yaml:"items"`
			} `yaml:"configMap"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
				Items      []struct {
					Key  string `yaml:"key"`
					Path string `yaml:"path"`
				} `yaml:"items"`
			} `yaml:"secret"`
			EmptyDir *struct{} `yaml:"emptyDir"`
		} `yaml:"volumes"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path        string    `yaml:"path"`
			Port        yaml.Node `yaml:"port"`
			HTTPHeaders []struct {
				Name string `yaml:"name"`
			} `yaml:"httpHeaders"`
		} `yaml:"httpGet"`
	}
	serviceSpec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	}
)

// kubeManifests reads every object of every YAML file in dir, by kind.
func kubeManifests(t *testing.T, dir string) (map[string][]kubeObject, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	byKind := map[string][]kubeObject{}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(fh)
		for {
			var o kubeObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				t.Fatalf("%s: an object without kind", f)
			}
			byKind[o.Kind] = append(byKind[o.Kind], o)
		}
		fh.Close()
	}
	return byKind, names
}

// one returns the only object of a kind.
func one(t *testing.T, byKind map[string][]kubeObject, kind string) kubeObject {
	t.Helper()
	if n := len(byKind[kind]); n != 1 {
		t.Fatalf("%d objects of kind %s in %s, want 1", n, kind, kubeDir)
	}
	return byKind[kind][0]
}

// portOf resolves a probe's or a Service's port (a number or a container
// port's name) to a number.
func portOf(t *testing.T, n yaml.Node, c container) int {
	t.Helper()
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	for _, p := range c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	t.Fatalf("port %q names no port of container %s", n.Value, c.Name)
	return 0
}

// mountedFile says which volume and which of its keys a path in the
// container is, when it lies in a mount.
func mountedFile(c container, file string) (volume, key string, ok bool) {
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" {
			if file == m.MountPath {
				return m.Name, m.SubPath, true
			}
			continue
		}
		if rel, err := filepath.Rel(m.MountPath, file); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return m.Name, rel, true
		}
	}
	return "", "", false
}

// fileKeys walks a decoded YAML configuration and returns every *_file
// key with its value, by key path.
func fileKeys(v any, prefix string, out map[string]string) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if s, ok := val.(string); ok && strings.HasSuffix(k, "_file") {
			out[p] = s
		}
		fileKeys(val, p, out)
	}
}

// TestKubernetesExample holds the StatefulSet, its ConfigMap, Secret and
// Service to each other and to the daemon: the configuration is loaded and
// validated by the daemon's own loader, with the Secret's files where the
// pod mounts them.
func TestKubernetesExample(t *testing.T) {
	byKind, files := kubeManifests(t, kubeDir)

	kust := one(t, byKind, "Kustomization")
	var others []string
	for _, f := range files {
		if f != "kustomization.yaml" {
			others = append(others, f)
		}
	}
	res := slices.Clone(kust.Resources)
	sort.Strings(res)
	if !slices.Equal(res, others) {
		t.Errorf("kustomization.yaml lists %v; the directory holds %v", res, others)
	}

	sts := one(t, byKind, "StatefulSet")
	var spec statefulSetSpec
	if err := sts.Spec.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if spec.Replicas == nil || *spec.Replicas != 1 {
		t.Errorf("StatefulSet replicas must be 1: the state file admits one owner")
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the pod template lacks the selector's label %s=%s", k, v)
		}
	}
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The configuration: the path given to --config is the ConfigMap's key
	// in its mount.
	args := append(slices.Clone(c.Command), c.Args...)
	i := slices.Index(args, "--config")
	if r := slices.Index(args, "run"); r < 0 || i < r || i+1 >= len(args) {
		t.Fatalf("the container runs %q; want run --config FILE", args)
	}
	configPath := args[i+1]
	vol, key, ok := mountedFile(c, configPath)
	if !ok {
		t.Fatalf("--config %s lies in no volume mount", configPath)
	}
	cm := one(t, byKind, "ConfigMap")
	cfgText := ""
	for _, v := range pod.Volumes {
		if v.Name != vol {
			continue
		}
		if v.ConfigMap == nil || v.ConfigMap.Name != cm.Metadata.Name {
			t.Fatalf("--config %s is in volume %s, which is not the ConfigMap %s", configPath, vol, cm.Metadata.Name)
		}
		for _, it := range v.ConfigMap.Items {
			if it.Path == key {
				key = it.Key
			}
		}
		cfgText = cm.Data[key]
	}
	if cfgText == "" {
		t.Fatalf("--config %s: the ConfigMap %s has no key %q", configPath, cm.Metadata.Name, key)
	}

	// The secrets: every *_file key names a file of the Secret's mount.
	secret := one(t, byKind, "Secret")
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(cfgText), &raw); err != nil {
		t.Fatalf("the ConfigMap's config.yaml: %v", err)
	}
	refs := map[string]string{}
	fileKeys(raw, "", refs)
	for _, want := range []string{"admin.token_file", "one.api_key_file", "customer_api.password_file", "erp.sql.dsn_file"} {
		if refs[want] == "" {
			t.Errorf("the configuration sets no %s: its secret belongs in the Secret", want)
		}
	}
	var secretMount string
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == secret.Metadata.Name {
				secretMount = m.MountPath
			}
		}
	}
	if secretMount == "" {
		t.Fatalf("the Secret %s is not mounted", secret.Metadata.Name)
	}
	secretFiles := t.TempDir()
	for k, v := range secret.StringData {
		if v != "change-me" && !strings.Contains(v, "change-me") {
			t.Errorf("Secret key %s holds something other than the change-me placeholder", k)
		}
		if err := os.WriteFile(filepath.Join(secretFiles, k), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(secret.Data) > 0 {
		t.Errorf("the example Secret has data (base64): keep it to stringData placeholders")
	}
	for keyPath, file := range refs {
		_, key, ok := mountedFile(c, file)
		if !ok || path.Dir(file) != secretMount {
			t.Errorf("%s: %s is not a file of the Secret mounted in %s", keyPath, file, secretMount)
			continue
		}
		if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s: %s names the key %q, which the Secret %s does not hold", keyPath, file, key, secret.Metadata.Name)
		}
	}

	// Load the configuration as the daemon would, the Secret's files where
	// the pod sees them (moved to a temporary directory), the container's
	// environment applied: a configuration the daemon would refuse fails here.
	cfgDir := t.TempDir()
	cfgFile := filepath.Join(cfgDir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(strings.ReplaceAll(cfgText, secretMount+"/", secretFiles+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	f, err := config.LoadValid(cfgFile, env)
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not load:\n%v", err)
	}
	if f.Admin.Token == "" {
		t.Errorf("admin.token is empty: the admin API on a pod address needs it")
	}
	// Without the token the daemon would refuse to listen on 0.0.0.0.
	var noToken []string
	for _, line := range strings.Split(cfgText, "\n") {
		if !strings.Contains(line, "token_file:") {
			noToken = append(noToken, line)
		}
	}
	if err := os.WriteFile(cfgFile, []byte(strings.ReplaceAll(strings.Join(noToken, "\n"), secretMount+"/", secretFiles+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadValid(cfgFile, env); err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Errorf("without admin.token_file the configuration loads (%v); the daemon must refuse 0.0.0.0 without a token", err)
	}

	// The admin API: one port for the container, the probes, the Service
	// and the scrape annotations.
	host, portText, err := net.SplitHostPort(f.Admin.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		t.Errorf("admin.listen is %s: inside the pod it must listen on every address (0.0.0.0) for the probes and the scrape", f.Admin.Listen)
	}
	port, _ := strconv.Atoi(portText)
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Errorf("container ports %+v, want the admin port %d", c.Ports, port)
	}
	for name, p := range map[string]*probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no httpGet probe on %s", name)
			continue
		}
		if p.HTTPGet.Path != name || portOf(t, p.HTTPGet.Port, c) != port {
			t.Errorf("probe %s:%s, want %s on %d", p.HTTPGet.Path, p.HTTPGet.Port.Value, name, port)
		}
		if len(p.HTTPGet.HTTPHeaders) > 0 {
			t.Errorf("probe %s sets headers: a Host header of its own is refused by the admin API, and the probes need no token", name)
		}
	}
	ann := spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(port) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want scrape true, port %d, path /metrics", ann, port)
	}
	svc := one(t, byKind, "Service")
	var ss serviceSpec
	if err := svc.Spec.Decode(&ss); err != nil {
		t.Fatal(err)
	}
	if sts.Metadata.Name == "" || spec.ServiceName != svc.Metadata.Name {
		t.Errorf("StatefulSet serviceName %q, Service %q", spec.ServiceName, svc.Metadata.Name)
	}
	for k, v := range ss.Selector {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pod does not carry", k, v)
		}
	}
	if len(ss.Ports) != 1 || portOf(t, ss.Ports[0].TargetPort, c) != port {
		t.Errorf("Service ports %+v, want the admin port %d", ss.Ports, port)
	}

	// The state: state_path lies on the volumeClaimTemplate's mount.
	vol, _, ok = mountedFile(c, f.StatePath)
	claims := map[string]bool{}
	for _, v := range spec.VolumeClaimTemplates {
		claims[v.Metadata.Name] = true
	}
	if !ok || !claims[vol] {
		t.Errorf("state_path %s is not on a volumeClaimTemplate's mount (mounts %+v)", f.StatePath, c.VolumeMounts)
	}

	// Non-root, as the image.
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 || pod.SecurityContext.FSGroup == 0 {
		t.Errorf("the pod must run as a non-root user with an fsGroup (the state volume and the secrets): %+v", pod.SecurityContext)
	}
	if ape := c.SecurityContext.AllowPrivilegeEscalation; ape == nil || *ape {
		t.Errorf("allowPrivilegeEscalation must be false")
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem must be true")
	}
	if time.Duration(pod.TerminationGracePeriodSeconds)*time.Second < stopBudget {
		t.Errorf("terminationGracePeriodSeconds %d is less than the %s a graceful stop may take", pod.TerminationGracePeriodSeconds, stopBudget)
	}
}
