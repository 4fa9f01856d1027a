package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Distinctive secrets: none may appear in any printed form.
var testSecrets = []string{"ONEKEY-q7Zt", "CAPIPW-r8Yu", "CAPITOK-s9Xv", "ADMTOK-t0Ww", "DBPW-u1Vx", "REFKEY-v2Uy", "REFPW-w3Tz"}

const secretConfig = `
admin: {listen: 0.0.0.0:9000, token: ADMTOK-t0Ww}
one: {base_url: "https://one.example.com", tenant: acme-tenant, api_key: ONEKEY-q7Zt}
customer_api: {base_url: "https://capi.example.com", username: user@example.com, password: CAPIPW-r8Yu, api_token: CAPITOK-s9Xv}
erp:
  sql:
    driver: pgx
    dsn: "postgres://erp_user:DBPW-u1Vx@db.internal:5432/erp?sslmode=require&password=DBPW-u1Vx"
    table: customers
    key_column: id
    cursor_column: updated_at
    flags: [{platform: one, column: send_one}]
reference: {one_api_key: REFKEY-v2Uy, customer_password: REFPW-w3Tz}
`

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range testSecrets {
		if strings.Contains(out, s) {
			t.Fatalf("%s shows the secret %s:\n%s", what, s, out)
		}
	}
}

func TestRedactedNeverShowsSecrets(t *testing.T) {
	f, err := Load(writeFile(t, secretConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The secrets were loaded (so the test is not vacuous)...
	if f.ONe.APIKey != "ONEKEY-q7Zt" || f.CustomerAPI.Password != "CAPIPW-r8Yu" || f.Admin.Token != "ADMTOK-t0Ww" ||
		!strings.Contains(f.ERP.SQL.DSN, "DBPW-u1Vx") || f.Reference.ONeAPIKey != "REFKEY-v2Uy" {
		t.Fatal("secrets not loaded")
	}
	red := f.Redacted()
	assertNoSecret(t, "Redacted", red)
	// ...and what is not secret still shows, with [REDACTED] where secrets were.
	for _, want := range []string{"tenant: acme-tenant", "username: user@example.com", "api_key: '[REDACTED]'",
		"password: '[REDACTED]'", "token: '[REDACTED]'", "postgres://erp_user:[REDACTED]@db.internal:5432/erp?sslmode=require&password=[REDACTED]"} {
		if !strings.Contains(red, want) {
			t.Fatalf("redacted output lacks %q:\n%s", want, red)
		}
	}
	var back map[string]any
	if err := yaml.Unmarshal([]byte(red), &back); err != nil {
		t.Fatalf("redacted output is not YAML: %v", err)
	}

	// Every way of printing the file or its sections.
	forms := map[string]string{
		"String": f.String(), "%v": fmt.Sprintf("%v", f), "%+v": fmt.Sprintf("%+v", f), "%#v": fmt.Sprintf("%#v", f),
		"%v value": fmt.Sprintf("%v", *f), "%s": fmt.Sprintf("%s", f),
		"one %+v": fmt.Sprintf("%+v", f.ONe), "one %#v": fmt.Sprintf("%#v", *f.ONe),
		"customer_api %v": fmt.Sprintf("%v", f.CustomerAPI), "admin %+v": fmt.Sprintf("%+v", f.Admin),
		"erp %+v": fmt.Sprintf("%+v", f.ERP), "sql %v": fmt.Sprintf("%v", f.ERP.SQL), "reference %#v": fmt.Sprintf("%#v", f.Reference),
	}
	for _, v := range []any{f, f.ONe, f.CustomerAPI, f.Admin, f.ERP, f.ERP.SQL, f.Reference} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		forms[fmt.Sprintf("json %T", v)] = string(b)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("loaded", "config", f, "one", f.ONe, "capi", f.CustomerAPI, "admin", f.Admin, "erp", f.ERP, "reference", f.Reference)
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "config", *f, "one", *f.ONe)
	forms["slog json"], forms["slog text"] = logs.String(), text.String()
	for name, out := range forms {
		assertNoSecret(t, name, out)
		if !strings.Contains(out, Redaction) {
			t.Fatalf("%s does not redact (printed nothing secret at all?):\n%s", name, out)
		}
	}
	// The JSON form is the same configuration.
	var j map[string]any
	if err := json.Unmarshal([]byte(forms["json *config.File"]), &j); err != nil {
		t.Fatal(err)
	}
	if j["one"].(map[string]any)["tenant"] != "acme-tenant" || j["one"].(map[string]any)["api_key"] != Redaction {
		t.Fatalf("json = %v", j["one"])
	}
}

func TestEmptySecretsStayEmpty(t *testing.T) {
	f, err := Load(writeFile(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	red := f.Redacted()
	if !strings.Contains(red, "token: \"\"") || !strings.Contains(red, "api_key: '[REDACTED]'") {
		t.Fatalf("redacted:\n%s", red)
	}
	if strings.Contains(red, "customer_api") || strings.Contains(red, "files:") {
		t.Fatalf("sections that are off are printed:\n%s", red)
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	// A file with secrets and mistakes: neither Load's nor Validate's
	// errors quote a secret.
	bad := strings.Replace(secretConfig, "tenant: acme-tenant", "tenant: acme-tenant, tenent: x", 1) +
		"queue: {max_attempts: ONEKEY-q7Zt}\n"
	_, err := Load(writeFile(t, bad), nil)
	if err == nil {
		t.Fatal("loaded")
	}
	assertNoSecret(t, "load error", err.Error())

	f, err := Load(writeFile(t, secretConfig+"log_level: ONEKEY-q7Zt\n"), []string{"ERPCONNECTOR_ONE_UPSTREAM_RATE=2", "ERPCONNECTOR_ONE_TIMEOUT=CAPIPW-r8Yu"})
	if err == nil {
		t.Fatal("loaded a bad timeout")
	}
	assertNoSecret(t, "env error", err.Error())
	_, err = Load(writeFile(t, secretConfig+"reference: {enabled: true, one_api_key: REFKEY-v2Uy, customer_password: REFPW-w3Tz}\n"), nil)
	if err == nil {
		t.Fatal("duplicate key loaded")
	}
	assertNoSecret(t, "yaml error", err.Error())
	f, err = Load(writeFile(t, strings.Replace(secretConfig, "reference: {", "reference: {enabled: true, ", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	red := f.Redacted()
	assertNoSecret(t, "Redacted with the reference section on", red)
	if !strings.Contains(red, "one_api_key: '[REDACTED]'") || !strings.Contains(red, "customer_password: '[REDACTED]'") {
		t.Fatalf("reference section not shown redacted:\n%s", red)
	}
	verr := f.Validate()
	if verr == nil {
		t.Fatal("mismatched reference credentials validated")
	}
	assertNoSecret(t, "validate error", verr.Error())
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 30 * time.Second: "30s", 2 * time.Minute: "2m",
		90 * time.Minute: "1h30m", 2 * time.Hour: "2h", time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s"} {
		got := formatDuration(d)
		if got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("%q parses to %v, %v", got, back, err)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"data/erp.db": "data/erp.db",
		"postgres://u:pw@h:5432/db?sslmode=disable": "postgres://u:[REDACTED]@h:5432/db?sslmode=disable",
		"postgres://u@h/db":                         "postgres://u@h/db",
		"postgresql://h/db?user=u&password=pw":      "postgresql://h/db?user=u&password=[REDACTED]",
		"host=h user=u password=pw dbname=d":        "host=h user=u password=[REDACTED] dbname=d",
		"host=h password='p w' dbname=d":            "host=h password=[REDACTED] dbname=d",
		"postgres://u:p%40w@h/db":                   "postgres://u:[REDACTED]@h/db",
		"postgres://u:pw@h/db#frag":                 "postgres://u:[REDACTED]@h/db#[REDACTED]",
		"postgres://u:pw@[::1:bad/db":               Redaction,
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadValidKeepsNothingOnError(t *testing.T) {
	// What a SIGHUP reload relies on: an invalid file yields no configuration.
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := LoadValid(p, nil)
	if err != nil || good == nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(minimal+"log_level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadValid(p, nil)
	var ce *Error
	if f != nil || !errors.As(err, &ce) || ce.File != p || ce.Problems[0].Path != "log_level" {
		t.Fatalf("LoadValid of a bad file = %v, %v", f, err)
	}
	if good.LogLevel != "info" {
		t.Fatal("the old configuration changed")
	}
}

func FuzzLoad(f *testing.F) {
	// Small seeds only: the fuzzer minimises every new input, and
	// minimising a whole example file takes most of a short fuzzing run
	// (the examples are loaded by TestEveryExampleConfigLoadsAndValidates).
	f.Add([]byte("reference: {enabled: true}\ndemo: {seed_customers: 4, invalid_every: 2}\nerp: {sql: {dsn: ../d.db, table: t, key_column: k, cursor_column: u, flags: [{platform: one, column: f}], rules: [{erp: c, field: type, transform: [map], map: [{from: C, to: company}]}]}}"))
	f.Add([]byte("erp: {adapter: files, files: {dir: x, key_column: k, delimiter: ';', min_age: 5s}}\nschedules: {feed: '', resync: '0 0 2 * * *', time_zone: Europe/Warsaw}\nownership: [{group: farm, owner: platform}]"))
	for _, s := range []string{minimal, secretConfig, "", "one: [", "- 1\n- 2", "one: {timeout: 5}", "a: &a [*a]",
		"ownership: [{group: farm}, 3, [x]]", "1: 2\n", "erp: {sql: {rules: [{erp: a, map: {x: y}}]}}",
		"reference: {enabled: true, one_listen: 'x'}", "schedules: {feed: 'TZ='}", "one: {upstream: {rate: .inf}}"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := load(data, dir, nil)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 || err.Error() == "" {
				t.Fatalf("error %v (%T) is not a *config.Error with problems", err, err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without an error")
		}
		_ = cfg.Validate()
		out := cfg.Redacted()
		var back any
		if err := yaml.Unmarshal([]byte(out), &back); err != nil {
			t.Fatalf("redacted output is not YAML: %v\n%s", err, out)
		}
		_ = cfg.Connector()
	})
}

func TestRedactedRoundTrips(t *testing.T) {
	// What Redacted prints loads back into the same configuration (secrets
	// aside), so `config` output can be pasted into a file.
	for _, name := range []string{"production.example.yaml", "files.example.yaml"} {
		path := filepath.Join(configsDir, name)
		env, _ := secretEnv(t, path)
		f, err := Load(path, env)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.secretRefs() {
			*r.file, *r.secret = "", ""
		}
		if f.ERP.Adapter == AdapterSQL {
			f.ERP.SQL.DSN = "postgres://u@db.example.com/erp?sslmode=verify-full"
		}
		p := filepath.Join(t.TempDir(), "round.yaml")
		if err := os.WriteFile(p, []byte(f.Redacted()), 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := Load(p, nil)
		if err != nil {
			t.Fatalf("%s: reloading the printed configuration: %v\n%s", name, err, f.Redacted())
		}
		g.path = f.path
		if d := diff(*f, *g); d != "" {
			t.Fatalf("%s: round trip differs: %s", name, d)
		}
	}
}

// diff names the first leaf where two files differ ("" when none; an
// empty list equals a missing one), and whether the same sections are on.
func diff(a, b File) string {
	if (a.ONe == nil) != (b.ONe == nil) || (a.CustomerAPI == nil) != (b.CustomerAPI == nil) {
		return "different sections are on"
	}
	got := map[string]reflect.Value{}
	walk(reflect.ValueOf(b), "", func(path string, v reflect.Value) { got[path] = v })
	out := ""
	walk(reflect.ValueOf(a), "", func(path string, v reflect.Value) {
		w := got[path]
		if out != "" || (v.Kind() == reflect.Slice && v.Len() == 0 && w.Len() == 0) {
			return
		}
		if !reflect.DeepEqual(v.Interface(), w.Interface()) {
			out = fmt.Sprintf("%s: %#v != %#v", path, v.Interface(), w.Interface())
		}
	})
	return out
}

func TestSecretFileGivenAsConfigIsNotPrinted(t *testing.T) {
	// An operator passing the API key file as the configuration by mistake.
	for _, content := range []string{"ONEKEY-q7Zt\n", "ONEKEY-q7Zt: [\n", "- ONEKEY-q7Zt\n"} {
		_, err := Load(writeFile(t, content), nil)
		if err == nil {
			t.Fatalf("%q loaded", content)
		}
		// The parser quotes the start of a value ("ONEKEY-..."): not even that.
		if strings.Contains(err.Error(), "ONEKEY") {
			t.Fatalf("parse error shows part of the secret: %v", err)
		}
	}
}
