package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/mapping"
)

func parseSpec(spec string) (cron.Schedule, error) { return connector.ParseSchedule(spec) }

// maxGap is the longest time between two runs of a schedule over an hour.
func maxGap(s cron.Schedule) time.Duration {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var gap time.Duration
	for range 200 {
		n := s.Next(t)
		gap = max(gap, n.Sub(t))
		t = n
	}
	return gap
}

// writeFile writes a configuration file into a temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minimal is a small valid configuration.
const minimal = `
state_path: state.db
one:
  base_url: https://one.example.com
  tenant: acme
  api_key: k
erp:
  sql:
    dsn: erp.db
    table: customers
    key_column: id
    cursor_column: updated_at
    flags: [{platform: one, column: send_one}]
    rules: [{erp: nm, field: name}]
`

func problems(t *testing.T, err error) []Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return ce.Problems
}

func paths(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	return out
}

func TestMinimalConfigGetsDefaults(t *testing.T) {
	p := writeFile(t, minimal)
	f, err := LoadValid(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if f.StatePath != filepath.Join(dir, "state.db") || f.ERP.SQL.DSN != filepath.Join(dir, "erp.db") {
		t.Fatalf("relative paths not resolved: %q %q", f.StatePath, f.ERP.SQL.DSN)
	}
	if f.Path() != p {
		t.Fatalf("path = %q", f.Path())
	}
	c := f.Connector()
	want := connector.Config{StatePath: f.StatePath, ONe: &connector.ONeConfig{BaseURL: "https://one.example.com", Tenant: "acme", APIKey: "k"}}.Defaults()
	want.Schedules = connector.DefaultSchedules()
	want.ERP.PageSize = 500
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("connector config\n got %+v\nwant %+v", c, want)
	}
	if c.CustomerAPI != nil {
		t.Fatal("customer_api left out must stay off")
	}
	if f.Admin.Listen != DefaultAdminListen || f.LogLevel != "info" || f.LogFormat != "json" || f.ERP.Adapter != AdapterSQL ||
		f.ERP.SQL.Driver != "sqlite" {
		t.Fatalf("file defaults: %+v %q %q %q", f.Admin, f.LogLevel, f.LogFormat, f.ERP.Adapter)
	}
}

func TestScheduleSetEmptyTurnsRunOff(t *testing.T) {
	f, err := Load(writeFile(t, minimal+"schedules:\n  resync: \"\"\n  feed: \"*/5 * * * * *\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Schedules.Resync != "" || f.Schedules.Feed != "*/5 * * * * *" || f.Schedules.Updates != connector.DefaultUpdates {
		t.Fatalf("schedules = %+v", f.Schedules)
	}
}

func TestEnvOverrides(t *testing.T) {
	p := writeFile(t, minimal+"queue:\n  max_attempts: 3\n")
	env := []string{
		"HOME=/root", // not ours: ignored
		"ERPCONNECTOR_ONE_TENANT=from-env",
		"ERPCONNECTOR_ONE_API_KEY=env-key",
		"ERPCONNECTOR_ONE_UPSTREAM_RATE=2.5",
		"ERPCONNECTOR_ONE_UPSTREAM_BREAKER_OPEN=45s",
		"ERPCONNECTOR_ONE_CONTEXTS=APPLICATION, BACKOFFICE",
		"ERPCONNECTOR_SCHEDULES_FEED=*/30 * * * * *",
		"ERPCONNECTOR_SCHEDULES_RESYNC=",
		"ERPCONNECTOR_QUEUE_MAX_ATTEMPTS=7",
		"ERPCONNECTOR_ERP_SQL_INCLUDE_UNFLAGGED=true",
		"ERPCONNECTOR_OWNERSHIP=[{group: farm, owner: platform}]",
		"ERPCONNECTOR_CUSTOMER_API_BASE_URL=https://capi.example.com",
		"ERPCONNECTOR_CUSTOMER_API_API_TOKEN=tok",
		"ERPCONNECTOR_REFERENCE_SEED=42",
		"ERPCONNECTOR_ONE_API_KYE=typo",
		"ERPCONNECTOR_TEST_POSTGRES_DSN=postgres://x",
	}
	f, err := LoadValid(p, env)
	if err != nil {
		t.Fatal(err)
	}
	o := f.ONe
	if o.Tenant != "from-env" || o.APIKey != "env-key" || o.Upstream.Rate != 2.5 || o.Upstream.Burst != 1 ||
		o.Upstream.BreakerOpen != 45*time.Second || !slices.Equal(o.Contexts, []string{"APPLICATION", "BACKOFFICE"}) {
		t.Fatalf("one = %#v (rate %v burst %d open %v contexts %v)", o, o.Upstream.Rate, o.Upstream.Burst, o.Upstream.BreakerOpen, o.Contexts)
	}
	if f.Schedules.Feed != "*/30 * * * * *" || f.Schedules.Resync != "" {
		t.Fatalf("schedules = %+v", f.Schedules)
	}
	if f.Queue.MaxAttempts != 7 || !f.ERP.SQL.IncludeUnflagged || f.Reference.Seed != 42 {
		t.Fatalf("queue %+v include_unflagged %v seed %d", f.Queue, f.ERP.SQL.IncludeUnflagged, f.Reference.Seed)
	}
	if !reflect.DeepEqual(f.Ownership, []connector.Ownership{{Group: "farm", Owner: "platform"}}) {
		t.Fatalf("ownership = %+v", f.Ownership)
	}
	if f.CustomerAPI == nil || f.CustomerAPI.BaseURL != "https://capi.example.com" || f.CustomerAPI.APIToken != "tok" {
		t.Fatalf("customer_api from the environment alone = %v", f.CustomerAPI)
	}
	if got := f.UnknownEnv(); !slices.Equal(got, []string{"ERPCONNECTOR_ONE_API_KYE", "ERPCONNECTOR_TEST_POSTGRES_DSN"}) {
		t.Fatalf("unknown env = %v", got)
	}
}

// sample returns an environment value for a key type and the value it
// must decode to (as formatValue prints it).
func sample(path, typ string) (env, want string) {
	switch typ {
	case "duration":
		return "17s", "17s"
	case "bool":
		return "true", "true"
	case "int":
		return "7", "7"
	case "number":
		return "2.5", "2.5"
	case "list of strings":
		return "a, b", "a,b"
	case "list":
		switch {
		case strings.HasSuffix(path, "rules"):
			return "[{erp: col, field: name}]", ""
		case path == "ownership":
			return "[{group: farm, owner: platform}]", ""
		default:
			return "[{platform: one, column: c}]", ""
		}
	}
	return "v-" + path, "v-" + path
}

func TestEveryKeyHasAWorkingEnvOverride(t *testing.T) {
	keys := Keys()
	seen := map[string]string{}
	var env []string
	want := map[string]string{}
	for _, k := range keys {
		if other, dup := seen[k.Env]; dup {
			t.Fatalf("%s and %s share %s", k.Path, other, k.Env)
		}
		seen[k.Env] = k.Path
		if strings.HasSuffix(k.Path, "_file") {
			continue // read from disk: TestSecretFiles
		}
		v, w := sample(k.Path, k.Type)
		env = append(env, k.Env+"="+v)
		want[k.Path] = w
	}
	f, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reflect.Value{}
	walk(reflect.ValueOf(*f), "", func(path string, v reflect.Value) { got[path] = v })
	for path, w := range want {
		v := got[path]
		if w == "" {
			if v.Len() != 1 {
				t.Errorf("%s: %d list items, want 1", path, v.Len())
			}
			continue
		}
		if s := formatValue(v); s != w {
			t.Errorf("%s: got %q from the environment, want %q", path, s, w)
		}
	}
	if len(want) < 60 {
		t.Fatalf("only %d keys", len(want))
	}
}

func TestBadEnvValueNamesKeyAndVariableNotValue(t *testing.T) {
	_, err := Load(writeFile(t, minimal), []string{"ERPCONNECTOR_ONE_UPSTREAM_RATE=fast-zq", "ERPCONNECTOR_ONE_TIMEOUT=soon-zq",
		"ERPCONNECTOR_OWNERSHIP=group-zq"})
	ps := problems(t, err)
	if !slices.Equal(paths(ps), []string{"one.timeout", "one.upstream.rate", "ownership"}) {
		t.Fatalf("problems = %v", ps)
	}
	if !strings.Contains(err.Error(), "ERPCONNECTOR_ONE_UPSTREAM_RATE") || strings.Contains(err.Error(), "-zq") {
		t.Fatalf("error must name the variable but not its value: %v", err)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "secrets", name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one", "one-key\n")
	write("token", "admin-token\r\n")
	write("pw", "pass word\n\n")
	write("apitok", "capi-token")
	write("dsn", "erp-dsn.db\n")
	cfg := `
admin: {listen: 0.0.0.0:8089, token_file: secrets/token}
one: {base_url: "https://one.example.com", tenant: t, api_key_file: secrets/one}
customer_api: {base_url: "https://c.example.com", username: u, password_file: secrets/pw, api_token_file: secrets/apitok}
erp:
  sql: {dsn_file: secrets/dsn, table: c, key_column: id, cursor_column: u, flags: [{platform: one, column: f}]}
`
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.ONe.APIKey != "one-key" || f.Admin.Token != "admin-token" || f.CustomerAPI.Password != "pass word\n" ||
		f.CustomerAPI.APIToken != "capi-token" {
		t.Fatalf("secrets: one %q admin %q pw %q tok %q", f.ONe.APIKey, f.Admin.Token, f.CustomerAPI.Password, f.CustomerAPI.APIToken)
	}
	// The DSN from a file is a SQLite path, resolved like any other.
	if f.ERP.SQL.DSN != filepath.Join(dir, "erp-dsn.db") || f.ONe.APIKeyFile != filepath.Join(dir, "secrets", "one") {
		t.Fatalf("dsn %q, api_key_file %q", f.ERP.SQL.DSN, f.ONe.APIKeyFile)
	}
	// A token makes a non-loopback admin address acceptable.
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}

	// The file can also come from the environment.
	f, err = Load(writeFile(t, minimal), []string{"ERPCONNECTOR_ONE_API_KEY=", "ERPCONNECTOR_ONE_API_KEY_FILE=" + filepath.Join(dir, "secrets", "one")})
	if err != nil || f.ONe.APIKey != "one-key" {
		t.Fatalf("api_key_file from env: %v %v", f, err)
	}
}

func TestSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
admin: {token: inline-tok-zq, token_file: ` + empty + `}
one: {api_key_file: missing-key}
customer_api: {password_file: ` + empty + `}
`
	_, err := Load(writeFile(t, cfg), nil)
	ps := problems(t, err)
	// The file's other problems are listed in the same pass; the keys the
	// failing files were to fill are not reported again.
	secretPaths := []string{"admin.token_file", "customer_api.password_file", "one.api_key_file"}
	if got := at(ps, "admin.token", "admin.token_file", "customer_api.password", "customer_api.password_file", "one.api_key", "one.api_key_file"); !slices.Equal(paths(got), secretPaths) {
		t.Fatalf("problems = %v", ps)
	}
	if len(at(ps, "one.base_url", "erp.sql.table")) != 2 {
		t.Fatalf("the file's other problems are missing: %v", ps)
	}
	msg := err.Error()
	for _, want := range []string{"set both admin.token and admin.token_file", "missing-key", "is empty"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "inline-tok-zq") {
		t.Fatalf("error shows a secret:\n%s", msg)
	}
}

func TestUnknownKeysAreErrorsWithTheirPath(t *testing.T) {
	cfg := `
stat_path: x
one:
  api_kye: hunter2-zq
  upstream: {rat: 5}
erp:
  sql:
    flags: [{platform: one, colum: f}]
ownership:
  - {group: farm, owner: platform}
  - {group: master, ownr: erp}
`
	_, err := Load(writeFile(t, cfg), nil)
	ps := problems(t, err)
	want := []string{"erp.sql.flags[0].colum", "one.api_kye", "one.upstream.rat", "ownership[1].ownr", "stat_path"}
	if !slices.Equal(paths(at(ps, want...)), want) {
		t.Fatalf("paths = %v, want %v among them", paths(ps), want)
	}
	for _, p := range at(ps, want...) {
		if p.Message != "unknown key" {
			t.Fatalf("%s: %s", p.Path, p.Message)
		}
	}
	if strings.Contains(err.Error(), "hunter2-zq") {
		t.Fatal("error shows a value")
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config: ") || !strings.Contains(line, "config.yaml: ") {
			t.Fatalf("line %q does not name the file", line)
		}
	}
}

func TestWrongTypesAreErrorsWithTheirPath(t *testing.T) {
	cfg := `
one:
  tenant: 12345
  api_key: 987654321
  timeout: 30
  upstream: {workers: many, burst: 2.5}
  contexts: APPLICATION
reference: {enabled: "yes"}
queue: {lease_timeout: soon, max_attempts: 3.0}
ownership: [{group: farm, owner: erp}, 7]
`
	_, err := Load(writeFile(t, cfg), nil)
	ps := problems(t, err)
	want := []string{"one.api_key", "one.contexts", "one.tenant", "one.timeout", "one.upstream.burst", "one.upstream.workers",
		"ownership[1]", "queue.lease_timeout", "reference.enabled"}
	if !slices.Equal(paths(at(ps, want...)), want) || len(at(ps, "one")) != 0 {
		t.Fatalf("paths = %v, want %v\n%v", paths(ps), want, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "987654321") {
		t.Fatalf("error shows the API key:\n%s", msg)
	}
	for _, w := range []string{"needs a unit", "want text, got an integer", "not a duration", "whole number",
		"want a list, got text", "want a mapping, got an integer"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
}

func TestMalformedYAML(t *testing.T) {
	for _, cfg := range []string{"one: [unclosed", "- a\n- b\n", "one:\n\tbad: tab\n"} {
		_, err := Load(writeFile(t, cfg), nil)
		if err == nil {
			t.Fatalf("%q loaded", cfg)
		}
		if !strings.HasPrefix(err.Error(), "config: ") {
			t.Fatalf("%q: %v", cfg, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestValidateListsEveryProblemWithItsPath(t *testing.T) {
	cfg := `
log_level: loud
log_format: xml
admin: {listen: 0.0.0.0:8089}
one:
  base_url: ftp://one.example.com
  tenant: ""
  api_key: k
  contexts: [APPLICATION, BOGUS]
  update_mode: sometimes
  upstream: {rate: -1, workers: 1000}
erp:
  page_size: 20000
  sql:
    dsn: erp.db
    key_column: id
    cursor_column: "updated at"
    flags: [{platform: moon, column: f}]
    rules: [{erp: a, field: name}, {erp: b, field: nonsense}]
  files: {dir: /tmp/x}
schedules:
  feed: "every minute"
  time_zone: Mars/Olympus
ownership:
  - {group: farm, owner: platform}
  - {group: farm, owner: erp}
  - {group: weather, owner: nobody}
queue: {max_attempts: -1}
demo: {seed_customers: 5, invalid_every: -2}
`
	f, err := Load(writeFile(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Validate()
	ps := problems(t, err)
	want := []string{
		"admin.listen",
		"demo.invalid_every",
		"demo.seed_customers",
		"erp.files",
		"erp.page_size",
		"erp.sql.cursor_column",
		"erp.sql.flags[0].platform",
		"erp.sql.rules[1]",
		"erp.sql.table",
		"log_format",
		"log_level",
		"one.base_url",
		"one.contexts[1]",
		"one.tenant",
		"one.update_mode",
		"one.upstream.rate",
		"one.upstream.workers",
		"ownership[1].group",
		"ownership[2].group",
		"ownership[2].owner",
		"queue.max_attempts",
		"schedules.feed",
		"schedules.time_zone",
	}
	if !slices.Equal(paths(ps), want) {
		t.Fatalf("paths:\n got %q\nwant %q\n%v", paths(ps), want, err)
	}
	// Deterministic: the same text every time.
	for range 5 {
		if again := f.Validate(); again.Error() != err.Error() {
			t.Fatalf("order changed:\n%v\n---\n%v", err, again)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d problems", len(lines), len(want))
	}
	for i, l := range lines {
		if !strings.Contains(l, "config.yaml: "+want[i]+": ") {
			t.Fatalf("line %d %q does not name %s", i, l, want[i])
		}
	}
	if u := err.(interface{ Unwrap() []error }).Unwrap(); len(u) != len(want) || u[0].Error() != ps[0].String() {
		t.Fatalf("unwrap = %v", u)
	}
}

func TestAdminListenRules(t *testing.T) {
	for listen, ok := range map[string]bool{
		"127.0.0.1:8089": true, "localhost:9000": true, "[::1]:8089": true, "127.0.0.1:0": true,
		"0.0.0.0:8089": false, ":8089": false, "10.1.2.3:8089": false, "no-port": false,
	} {
		f, err := Load(writeFile(t, minimal), []string{"ERPCONNECTOR_ADMIN_LISTEN=" + listen})
		if err != nil {
			t.Fatal(err)
		}
		err = f.Validate()
		if ok != (err == nil) {
			t.Errorf("admin.listen %q: %v", listen, err)
		}
		if !ok && !slices.Equal(paths(problems(t, err)), []string{"admin.listen"}) {
			t.Errorf("admin.listen %q: %v", listen, err)
		}
	}
}

func TestReferenceMustBeConsistent(t *testing.T) {
	cfg := `
reference:
  enabled: true
  one_listen: 192.168.1.5:18080
  customer_listen: 127.0.0.1:18081
one:
  tenant: other
customer_api:
  base_url: https://elsewhere.example.com
  api_token: tok
erp:
  sql: {dsn: e.db, table: c, key_column: id, cursor_column: u, flags: [{platform: one, column: f}]}
demo: {storefront_registrations: 2}
`
	f, err := Load(writeFile(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, f.Validate())
	want := []string{"customer_api.api_token", "customer_api.base_url", "customer_api.password", "customer_api.username",
		"one.tenant", "reference.one_listen"}
	if !slices.Equal(paths(ps), want) {
		t.Fatalf("paths = %q, want %q", paths(ps), want)
	}

	// With the bound addresses of servers on port 0, the base URLs follow them.
	f, err = Load(writeFile(t, "reference: {enabled: true, one_listen: '127.0.0.1:0', customer_listen: ''}\n"+
		"erp:\n  sql: {dsn: e.db, table: c, key_column: id, cursor_column: u, flags: [{platform: one, column: f}]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.CustomerAPI != nil {
		t.Fatal("customer_listen '' must run no Customer API")
	}
	f.SetReferenceURLs("http://127.0.0.1:40123", "")
	if err := f.Validate(); err != nil || f.Connector().ONe.BaseURL != "http://127.0.0.1:40123" {
		t.Fatalf("%v %v", err, f.ONe)
	}
}

func TestKeys(t *testing.T) {
	byPath := map[string]Key{}
	for _, k := range Keys() {
		byPath[k.Path] = k
	}
	for path, want := range map[string]Key{
		"admin.listen":              {Env: "ERPCONNECTOR_ADMIN_LISTEN", Type: "string", Default: DefaultAdminListen},
		"one.api_key":               {Env: "ERPCONNECTOR_ONE_API_KEY", Type: "string", Secret: true},
		"one.upstream.rate":         {Env: "ERPCONNECTOR_ONE_UPSTREAM_RATE", Type: "number"},
		"one.timeout":               {Env: "ERPCONNECTOR_ONE_TIMEOUT", Type: "duration", Default: "30s"},
		"one.contexts":              {Env: "ERPCONNECTOR_ONE_CONTEXTS", Type: "list of strings", Default: "APPLICATION,BACKOFFICE,INTERNAL"},
		"schedules.feed":            {Env: "ERPCONNECTOR_SCHEDULES_FEED", Type: "string", Default: connector.DefaultFeed},
		"erp.sql.dsn":               {Env: "ERPCONNECTOR_ERP_SQL_DSN", Type: "string", Secret: true},
		"erp.sql.dsn_file":          {Env: "ERPCONNECTOR_ERP_SQL_DSN_FILE", Type: "string"},
		"erp.sql.rules":             {Env: "ERPCONNECTOR_ERP_SQL_RULES", Type: "list"},
		"erp.files.min_age":         {Env: "ERPCONNECTOR_ERP_FILES_MIN_AGE", Type: "duration"},
		"reference.enabled":         {Env: "ERPCONNECTOR_REFERENCE_ENABLED", Type: "bool"},
		"reference.seed":            {Env: "ERPCONNECTOR_REFERENCE_SEED", Type: "int"},
		"demo.seed_customers":       {Env: "ERPCONNECTOR_DEMO_SEED_CUSTOMERS", Type: "int"},
		"queue.max_attempts":        {Env: "ERPCONNECTOR_QUEUE_MAX_ATTEMPTS", Type: "int", Default: "10"},
		"reference.one_listen":      {Env: "ERPCONNECTOR_REFERENCE_ONE_LISTEN", Type: "string", Default: DefaultRefONeListen},
		"customer_api.api_token":    {Env: "ERPCONNECTOR_CUSTOMER_API_API_TOKEN", Type: "string", Secret: true},
		"erp.sql.include_unflagged": {Env: "ERPCONNECTOR_ERP_SQL_INCLUDE_UNFLAGGED", Type: "bool"},
	} {
		want.Path = path
		if got := byPath[path]; got != want {
			t.Errorf("%s: got %+v, want %+v", path, got, want)
		}
	}
	// Every *_file key exists and names a secret key.
	for _, fk := range SecretFileKeys() {
		if _, ok := byPath[fk]; !ok {
			t.Errorf("%s is not a key", fk)
		}
		if !byPath[strings.TrimSuffix(fk, "_file")].Secret {
			t.Errorf("%s fills a key not marked secret", fk)
		}
	}
	var files []string
	for _, k := range Keys() {
		if strings.HasSuffix(k.Path, "_file") {
			files = append(files, k.Path)
		}
	}
	if !slices.Equal(files, SecretFileKeys()) {
		t.Fatalf("*_file keys %v, SecretFileKeys %v", files, SecretFileKeys())
	}
}

func TestPlatformValuesAreDecoded(t *testing.T) {
	f, err := Load(writeFile(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.ERP.SQL.Flags; len(got) != 1 || got[0].Platform != mapping.PlatformONe || got[0].Column != "send_one" {
		t.Fatalf("flags = %+v", got)
	}
}

func TestSQLiteDSNResolution(t *testing.T) {
	for in, want := range map[string]string{
		"erp.db":                     "/cfg/erp.db",
		"data/erp.db?_pragma=x(1)":   "/cfg/data/erp.db?_pragma=x(1)",
		"file:erp.db?mode=rwc":       "file:/cfg/erp.db?mode=rwc",
		"/abs/erp.db":                "/abs/erp.db",
		":memory:":                   ":memory:",
		"file::memory:?cache=shared": "file::memory:?cache=shared",
		"file:x?mode=memory":         "file:x?mode=memory",
		"":                           "",
	} {
		if got := resolveSQLite("/cfg", in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestNewLoggerFollowsLogSettings(t *testing.T) {
	f, err := Load(writeFile(t, minimal+"log_level: warn\nlog_format: text\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	log := f.NewLogger(&b)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown k=v") {
		t.Fatalf("text logger at warn wrote %q", out)
	}
	f.LogLevel, f.LogFormat = "debug", "json"
	b.Reset()
	f.NewLogger(&b).Debug("dbg")
	if out := b.String(); !strings.HasPrefix(out, "{") || !strings.Contains(out, `"msg":"dbg"`) {
		t.Fatalf("json logger at debug wrote %q", out)
	}
}

// at returns the problems at the given paths, in their order.
func at(ps []Problem, paths ...string) []Problem {
	var out []Problem
	for _, p := range ps {
		if slices.Contains(paths, p.Path) {
			out = append(out, p)
		}
	}
	return out
}

// TestEveryProblemInOnePass: a file with a value of the wrong type, an
// unknown key, a reference to an unset variable and a semantic error
// lists all four at once, each at its key.
func TestEveryProblemInOnePass(t *testing.T) {
	cfg := `
state_path: state.db
one:
  base_url: ftp://one.example.com
  tenant: acme
  api_key: ${ONE_KEY}
  upstream: {rate: fast}
  on_unflg: delete
erp:
  adapter: sql
  sql: {driver: sqlite, dsn: erp.db, table: customers, key_column: k, cursor_column: u, flags: [{platform: one, column: f}]}
`
	_, err := Load(writeFile(t, cfg), nil)
	ps := problems(t, err)
	want := []string{"one.api_key", "one.base_url", "one.on_unflg", "one.upstream.rate"}
	if !slices.Equal(paths(ps), want) {
		t.Fatalf("paths = %v, want %v\n%v", paths(ps), want, err)
	}
}

// TestRemovedKeySaysWhatToDo: a key earlier versions accepted is named
// with what to do now, not just "unknown key".
func TestRemovedKeySaysWhatToDo(t *testing.T) {
	_, err := load([]byte("erp:\n  upstream:\n    workers: 4\n"), t.TempDir(), nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("load = %v, want a configuration error", err)
	}
	for _, p := range ce.Problems {
		if p.Path == "erp.upstream" {
			if !strings.Contains(p.Message, "delete the key") {
				t.Fatalf("erp.upstream: %q", p.Message)
			}
			return
		}
	}
	t.Fatalf("no problem at erp.upstream in %v", err)
}
