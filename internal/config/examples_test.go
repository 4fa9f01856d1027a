package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/erptest"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/problem"
)

// configsDir is the repository's configs/ directory.
const configsDir = "../../configs"

// exampleFiles returns every configuration file in configs/.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(configsDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("want at least demo, production and files examples in %s, found %v", configsDir, files)
	}
	return files
}

// setKeys returns the dotted paths of the scalar keys a YAML file sets.
func setKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]bool{}
	var rec func(prefix string, m map[string]any)
	rec = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := problem.Join(prefix, k)
			if sub, ok := v.(map[string]any); ok {
				rec(p, sub)
				continue
			}
			out[p] = true
		}
	}
	rec("", raw)
	return out
}

// secretEnv provides every *_file secret a file names through temporary
// files given by environment overrides (the files the examples name do not
// exist here). It returns the environment and the secrets written.
func secretEnv(t *testing.T, path string) (env, secrets []string) {
	t.Helper()
	keys := setKeys(t, path)
	dir := t.TempDir()
	for _, k := range SecretFileKeys() {
		if !keys[k] {
			continue
		}
		secret := "s3cr3t-" + strings.ReplaceAll(k, ".", "-")
		content := secret
		if k == "erp.sql.dsn_file" {
			secret = "dsn-pw-Xq9"
			content = "postgres://erpconnector:" + secret + "@127.0.0.1:5432/erp?sslmode=disable"
		}
		p := filepath.Join(dir, strings.ReplaceAll(k, ".", "_"))
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, envName(k)+"="+p)
		secrets = append(secrets, secret)
	}
	return env, secrets
}

func TestEveryExampleConfigLoadsAndValidates(t *testing.T) {
	for _, path := range exampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			env, secrets := secretEnv(t, path)
			f, err := Load(path, env)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if err := f.Validate(); err != nil {
				t.Fatalf("validate:\n%v", err)
			}
			if err := f.Connector().Validate(); err != nil {
				t.Fatalf("connector config:\n%v", err)
			}
			if u := f.UnknownEnv(); len(u) != 0 {
				t.Fatalf("unknown env %v", u)
			}
			out := f.Redacted()
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("redacted config shows the secret %q:\n%s", s, out)
				}
			}
			// The redacted output is YAML that names every section it prints.
			var back map[string]any
			if err := yaml.Unmarshal([]byte(out), &back); err != nil {
				t.Fatalf("redacted output is not YAML: %v\n%s", err, out)
			}
			for _, k := range []string{"state_path", "admin", "erp", "schedules", "queue"} {
				if _, ok := back[k]; !ok {
					t.Fatalf("redacted output lacks %s", k)
				}
			}
		})
	}
}

func TestDemoConfigIsTheEmbeddedDemo(t *testing.T) {
	f, err := Load(filepath.Join(configsDir, "demo.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.IsDemo() || f.Reference.ONeListen != "127.0.0.1:18080" || f.Reference.CustomerListen != "127.0.0.1:18081" {
		t.Fatalf("reference = %+v", f.Reference)
	}
	if f.ONe == nil || f.ONe.BaseURL != "http://127.0.0.1:18080" || f.ONe.Tenant != "demo" || f.ONe.APIKey != "secret" {
		t.Fatalf("one does not default to the reference server: %v", f.ONe)
	}
	if ca := f.CustomerAPI; ca == nil || ca.BaseURL != "http://127.0.0.1:18081" || ca.Username != "owner@example.com" || ca.Password != "Passw0rd!" {
		t.Fatalf("customer_api does not default to the reference server: %v", ca)
	}
	// Paths are relative to configs/, so the demo writes under the repository's data/.
	root := filepath.Clean(filepath.Join(configsDir, ".."))
	if want := filepath.Join(root, "data", "demo-state.db"); f.StatePath != want {
		t.Fatalf("state_path = %q, want %q", f.StatePath, want)
	}
	if want := filepath.Join(root, "data", "demo-erp.db"); f.ERP.SQL.DSN != want {
		t.Fatalf("erp.sql.dsn = %q, want %q", f.ERP.SQL.DSN, want)
	}
	// The ERP section is exactly the demo layout the generator writes.
	want := sqlerp.DemoConfig("sqlite", f.ERP.SQL.DSN, sqlerp.DemoTable)
	want.IncludeUnflagged = true
	if !reflect.DeepEqual(f.ERP.SQL.Config, want) {
		t.Fatalf("erp.sql differs from sqlerp.DemoConfig:\n got %#v\nwant %#v", f.ERP.SQL.Config.Rules, want.Rules)
	}
	if f.Demo.SeedCustomers != 40 || f.Demo.InvalidEvery != 10 {
		t.Fatalf("demo = %+v", f.Demo)
	}
	// Every run is at most 30 s apart, so the demo visibly syncs within a minute.
	for name, spec := range map[string]string{"new_customers": f.Schedules.NewCustomers, "updates": f.Schedules.Updates,
		"feed": f.Schedules.Feed, "customer_pull": f.Schedules.CustomerPull} {
		s, err := parseSpec(spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if gap := maxGap(s); gap.Seconds() > 30 || gap.Seconds() < 10 {
			t.Fatalf("schedules.%s runs every %v, want 10-30s", name, gap)
		}
	}
}

// copyDemo copies demo.yaml into dir/configs so that its ../data paths
// land in dir/data.
func copyDemo(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configsDir, "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o750); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "configs", "demo.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDemoOpenERPCreatesAndSeedsSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := LoadValid(copyDemo(t, dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(dir, "data", "demo-erp.db")
	if f.ERP.SQL.DSN != dbFile || f.StatePath != filepath.Join(dir, "data", "demo-state.db") {
		t.Fatalf("paths not resolved against the file: dsn %q state %q", f.ERP.SQL.DSN, f.StatePath)
	}
	if _, err := os.Stat(dbFile); !os.IsNotExist(err) {
		t.Fatalf("database exists before OpenERP: %v", err)
	}
	a, err := f.OpenERP(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.SeedDemo(ctx, a)
	if err != nil || n != 40 {
		t.Fatalf("seed = %d, %v; want 40", n, err)
	}
	items := allChanges(t, a)
	if len(items) != 40 {
		t.Fatalf("changes = %d items, want 40", len(items))
	}
	invalid := 0
	for _, it := range items {
		// Refused by a platform it is flagged for (a field blocks a
		// platform only if the platform receives it).
		if erptest.PlatformCheck(it) != nil {
			invalid++
		}
	}
	if invalid != 4 {
		t.Fatalf("invalid = %d, want 4 (every 10th of 40)", invalid)
	}
	// The generated customers are those of erpgen with the reference seed.
	recs := erpgen.New(erpgen.Options{Seed: f.Reference.Seed, InvalidEvery: 10}).Records(40)
	got, err := a.Get(ctx, recs[0].Key)
	if err != nil || got.Customer.Name == "" || got.Customer.Name != strings.TrimSpace(recs[0].Value("name")) {
		t.Fatalf("get %s = %+v, %v", recs[0].Key, got.Customer.Name, err)
	}
	if err := a.(erp.Closer).Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again keeps the data and does not seed twice.
	a2, err := f.OpenERP(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.(erp.Closer).Close()
	if n, err := f.SeedDemo(ctx, a2); err != nil || n != 0 {
		t.Fatalf("second seed = %d, %v; want 0", n, err)
	}
	if items := allChanges(t, a2); len(items) != 40 {
		t.Fatalf("after reopening: %d items, want 40", len(items))
	}
}

func allChanges(t *testing.T, a erp.Adapter) []erp.Item {
	t.Helper()
	var out []erp.Item
	cur := ""
	for range 100 {
		p, err := a.Changes(context.Background(), cur, 7)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Items...)
		cur = p.Cursor
		if !p.More {
			return out
		}
	}
	t.Fatal("changes never ended")
	return nil
}

func TestFilesExampleOpensDropFolder(t *testing.T) {
	path := filepath.Join(configsDir, "files.example.yaml")
	env, _ := secretEnv(t, path)
	dir := t.TempDir()
	env = append(env, "ERPCONNECTOR_ERP_FILES_DIR="+dir)
	f, err := LoadValid(path, env)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.OpenERP(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"inbox", "processed", "outbox"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			t.Fatalf("%s not created: %v", sub, err)
		}
	}
	if n, err := f.SeedDemo(context.Background(), a); err != nil || n != 0 {
		t.Fatalf("seed on a non-demo file = %d, %v", n, err)
	}
}

func TestOpenERPRefusesMissingSQLiteOutsideTheDemo(t *testing.T) {
	p := writeFile(t, minimal)
	f, err := LoadValid(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.OpenERP(context.Background(), nil); err == nil || !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "erp.sql.dsn") {
		t.Fatalf("open of a missing SQLite ERP: %v", err)
	}
	if _, err := os.Stat(f.ERP.SQL.DSN); !os.IsNotExist(err) {
		t.Fatalf("the missing database was created: %v", err)
	}
}
