// Package config loads the connector's YAML configuration file: one file
// chooses the tenant, the API keys, the base URLs, the ERP adapter and its
// field rules, the schedules, rate limits, breaker settings and policies.
//
// Load reads the file with viper (used as a loader only: a new instance per
// call, never the global one, never watching), lets the environment override
// every key as ERPCONNECTOR_<PATH> (dots become underscores, e.g.
// ERPCONNECTOR_ONE_API_KEY or ERPCONNECTOR_SCHEDULES_FEED), decodes strictly
// (an unknown key is an error naming its full path), reads *_file secrets,
// resolves relative paths against the file's directory and fills in the
// defaults. Validate reports every problem at once, each prefixed with its
// key path. Redacted (and String, GoString, LogValue, MarshalJSON) print the
// effective configuration with every secret replaced by [REDACTED].
//
// File.Connector converts to connector.Config; OpenERP opens the configured
// ERP adapter (creating the demo schema for a demo file) and SeedDemo fills
// an empty demo ERP with generated customers.
package config

import (
	"time"

	"github.com/erpconnector/erpconnector/erp/fileerp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "ERPCONNECTOR_"

// EnvConfigFile is the environment variable the command line may use to
// name the configuration file; it is not a key, so Load does not report it
// as unknown.
const EnvConfigFile = EnvPrefix + "CONFIG"

// Redaction replaces a secret in printed configuration.
const Redaction = "[REDACTED]"

// Adapters (erp.adapter).
const (
	AdapterSQL   = "sql"
	AdapterFiles = "files"
)

// Default values of the file's own keys (the connector's defaults are
// connector.Config.Defaults).
const (
	DefaultAdminListen     = "127.0.0.1:8089"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "json"
	DefaultRefONeListen    = "127.0.0.1:18080"
	DefaultRefONeTenant    = "demo"
	DefaultRefONeAPIKey    = "secret"
	DefaultRefCustListen   = "127.0.0.1:18081"
	DefaultRefCustUser     = "owner@example.com"
	DefaultRefCustPassword = "Passw0rd!"
)

// File is the shape of the YAML configuration file. Keys are snake_case;
// every key can be overridden from the environment as ERPCONNECTOR_<PATH>.
type File struct {
	// StatePath is the bbolt state file (queue, cursors, bindings); default
	// data/state.db. Relative to the configuration file's directory.
	StatePath string `mapstructure:"state_path"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `mapstructure:"log_level"`
	// LogFormat is json (default) or text.
	LogFormat string `mapstructure:"log_format"`
	// Admin is the admin HTTP API (metrics, health, status, dead letters).
	Admin Admin `mapstructure:"admin"`
	// ONe configures the ONe platform; leaving the section out turns the ONe
	// pipelines off (unless the embedded reference servers provide it).
	ONe *ONe `mapstructure:"one"`
	// CustomerAPI configures the Customer API; leaving the section out turns
	// its pipelines off (unless the embedded reference servers provide it).
	CustomerAPI *CustomerAPI `mapstructure:"customer_api"`
	// ERP chooses and configures the ERP adapter.
	ERP ERP `mapstructure:"erp"`
	// Schedules are the cron specs (six fields, with seconds) of the
	// periodic runs. A key left out gets the vendor-guided default; a key
	// set to "" turns that run off.
	Schedules Schedules `mapstructure:"schedules"`
	// Ownership says which side wins, per field group (master, commercial,
	// additional, contact, farm), when a platform change arrives.
	Ownership []Ownership `mapstructure:"ownership"`
	// Queue tunes the durable queue.
	Queue Queue `mapstructure:"queue"`
	// Reference runs the embedded reference servers (the demo). When
	// enabled, the one and customer_api sections default to them.
	Reference Reference `mapstructure:"reference"`
	// Demo seeds the demo ERP and drives the reference storefront.
	Demo Demo `mapstructure:"demo"`

	path       string   // the file loaded ("" for environment only)
	unknownEnv []string // ERPCONNECTOR_ variables that matched no key
	refBound   bool     // SetReferenceURLs was called
}

// Admin is the admin HTTP API.
type Admin struct {
	// Listen is the address of the admin API (default 127.0.0.1:8089). It
	// must be a loopback address unless Token is set.
	Listen string `mapstructure:"listen"`
	// Token is the bearer token the admin API requires (empty: none). Secret.
	Token string `mapstructure:"token"`
	// TokenFile is a file holding Token (one trailing newline is trimmed).
	TokenFile string `mapstructure:"token_file"`
}

// ONe configures the ONe platform.
type ONe struct {
	// BaseURL is the scheme and host of the API, e.g. https://api-preprod.one.unity.pl.
	BaseURL string `mapstructure:"base_url"`
	// Tenant is the one-tenant header.
	Tenant string `mapstructure:"tenant"`
	// APIKey is the ApiAuth header. Secret.
	APIKey string `mapstructure:"api_key"`
	// APIKeyFile is a file holding APIKey (one trailing newline is trimmed).
	APIKeyFile string `mapstructure:"api_key_file"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Contexts are the feed contexts to follow (default APPLICATION,
	// BACKOFFICE, INTERNAL: the connector's own INTEGRATIONS writes are left out).
	Contexts []string `mapstructure:"contexts"`
	// UpdateMode is full (the only mode; partial was removed: the partial
	// endpoints cannot carry every field).
	UpdateMode string `mapstructure:"update_mode"`
	// OnUnflag is what happens on ONe when the ERP unflags or deletes a
	// customer: unbind (default) or delete.
	OnUnflag string `mapstructure:"on_unflag"`
	// OnDelete is what happens in the ERP when ONe deletes a client: unlink
	// (default) or mark-deleted.
	OnDelete string `mapstructure:"on_delete"`
	// PageSize is the page size of full listings (resync), default 200.
	PageSize int `mapstructure:"page_size"`
	// Upstream is the rate limit, workers and breaker of the ONe upstream.
	Upstream Upstream `mapstructure:"upstream"`
}

// CustomerAPI configures the Customer API.
type CustomerAPI struct {
	// BaseURL is the scheme and host of the API.
	BaseURL string `mapstructure:"base_url"`
	// Username logs in together with Password.
	Username string `mapstructure:"username"`
	// Password logs in with Username. Secret.
	Password string `mapstructure:"password"`
	// PasswordFile is a file holding Password (one trailing newline is trimmed).
	PasswordFile string `mapstructure:"password_file"`
	// APIToken authenticates instead of Username and Password. Secret.
	APIToken string `mapstructure:"api_token"`
	// APITokenFile is a file holding APIToken (one trailing newline is trimmed).
	APITokenFile string `mapstructure:"api_token_file"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
	// PageSize is the page size of organisation listings (default 100).
	PageSize int `mapstructure:"page_size"`
	// CertificateCountry is the ISO3 country of certificate lookups (default GBR).
	CertificateCountry string `mapstructure:"certificate_country"`
	// OnUnflag is what happens on the Customer API when the ERP unflags or
	// deletes a customer: unbind (default) or deactivate (the
	// organisation's status becomes inactive).
	OnUnflag string `mapstructure:"on_unflag"`
	// OnDelete is what happens in the ERP when an organisation is deleted or
	// deactivated on the platform: unlink (default) or mark-deleted.
	OnDelete string `mapstructure:"on_delete"`
	// Upstream is the rate limit, workers and breaker of the Customer API upstream.
	Upstream Upstream `mapstructure:"upstream"`
}

// Upstream is the guarded-delivery tuning of one platform upstream.
type Upstream struct {
	// Rate is requests per second (0: unlimited).
	Rate float64 `mapstructure:"rate"`
	// Burst is the limiter's burst (default: Rate rounded down, at least 1).
	Burst int `mapstructure:"burst"`
	// Workers is the number of concurrent deliveries (default 4).
	Workers int `mapstructure:"workers"`
	// BreakerFailures opens the breaker after this many consecutive failures (default 5).
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerOpen is how long the breaker stays open before a probe (default 30s).
	BreakerOpen time.Duration `mapstructure:"breaker_open"`
}

// ERP chooses and configures the ERP adapter.
type ERP struct {
	// Adapter is sql (a table or view; default) or files (a drop folder).
	Adapter string `mapstructure:"adapter"`
	// PageSize is how many changed customers one read returns (default 500, at most 10000).
	PageSize int `mapstructure:"page_size"`
	// Upstream is the concurrency of ERP writes.
	Upstream ERPUpstream `mapstructure:"upstream"`
	// SQL configures the sql adapter.
	SQL SQL `mapstructure:"sql"`
	// Files configures the files adapter.
	Files fileerp.Config `mapstructure:"files"`
}

// ERPUpstream tunes ERP writes.
type ERPUpstream struct {
	// Workers is the number of concurrent ERP writes (default 4).
	Workers int `mapstructure:"workers"`
}

// SQL is the sql adapter's configuration: the fields of sqlerp.Config plus
// dsn_file.
type SQL struct {
	sqlerp.Config `mapstructure:",squash"`
	// DSNFile is a file holding the DSN (one trailing newline is trimmed),
	// for a DSN with a password.
	DSNFile string `mapstructure:"dsn_file"`
}

// Schedules are cron specs with a seconds field ("0 */10 * * * *").
type Schedules struct {
	// NewCustomers pushes ERP customers not yet on the platforms (default "0 */10 * * * *").
	NewCustomers string `mapstructure:"new_customers"`
	// Updates pushes changed ERP customers (default "50 */10 * * * *").
	Updates string `mapstructure:"updates"`
	// Feed polls the ONe client feed (default "0 */2 * * * *").
	Feed string `mapstructure:"feed"`
	// CustomerPull lists Customer API organisations for changes (default "30 */10 * * * *").
	CustomerPull string `mapstructure:"customer_pull"`
	// Certificates refreshes Red Tractor certificates (default "0 30 3 * * *").
	Certificates string `mapstructure:"certificates"`
	// Resync runs a full resync (default "0 0 2 * * *").
	Resync string `mapstructure:"resync"`
	// TimeZone is the IANA zone of the specs (default UTC).
	TimeZone string `mapstructure:"time_zone"`
}

// Ownership assigns a field group to the ERP or to the platforms.
type Ownership struct {
	// Group is master, commercial, additional, contact or farm.
	Group string `mapstructure:"group"`
	// Owner is erp or platform.
	Owner string `mapstructure:"owner"`
}

// Queue tunes the durable queue.
type Queue struct {
	// MaxAttempts before a job goes to the dead letters (default 10).
	MaxAttempts int `mapstructure:"max_attempts"`
	// LeaseTimeout before an unfinished job returns to ready (default 2m).
	LeaseTimeout time.Duration `mapstructure:"lease_timeout"`
	// HealAfter is how long a record the platform refused waits before it
	// is tried again by itself, doubling each time up to a day (default 5m).
	HealAfter time.Duration `mapstructure:"heal_after"`
}

// Reference configures the embedded reference servers of the demo.
type Reference struct {
	// Enabled starts both reference servers in the daemon; the one and
	// customer_api sections then default to them.
	Enabled bool `mapstructure:"enabled"`
	// ONeListen is the ONe reference server's address (default
	// 127.0.0.1:18080; empty with a customer_listen: no ONe server).
	ONeListen string `mapstructure:"one_listen"`
	// ONeTenant is the tenant the ONe reference server knows (default demo).
	ONeTenant string `mapstructure:"one_tenant"`
	// ONeAPIKey is that tenant's API key (default secret). Secret.
	ONeAPIKey string `mapstructure:"one_api_key"`
	// CustomerListen is the Customer API reference server's address
	// (default 127.0.0.1:18081; empty with a one_listen: no Customer API server).
	CustomerListen string `mapstructure:"customer_listen"`
	// CustomerUser is the user the Customer API reference server knows
	// (default owner@example.com).
	CustomerUser string `mapstructure:"customer_user"`
	// CustomerPassword is that user's password (default Passw0rd!). Secret.
	CustomerPassword string `mapstructure:"customer_password"`
	// Seed makes the reference servers' ids and the demo customers reproducible.
	Seed uint64 `mapstructure:"seed"`
}

// Demo drives the demo.
type Demo struct {
	// SeedCustomers is how many generated customers SeedDemo writes into an
	// empty demo ERP (default 0: none).
	SeedCustomers int `mapstructure:"seed_customers"`
	// InvalidEvery plants a known defect in every n-th seeded customer, to
	// show dead letters (0: none).
	InvalidEvery int `mapstructure:"invalid_every"`
	// StorefrontRegistrations is how many clients the demo registers through
	// the reference storefront, to show customers flowing into the ERP (0: none).
	StorefrontRegistrations int `mapstructure:"storefront_registrations"`
}

// Path returns the file the configuration was loaded from ("" when it came
// from the environment only).
func (f *File) Path() string { return f.path }

// UnknownEnv returns the names of ERPCONNECTOR_ environment variables that
// match no key (probably misspelt; they were ignored). Values are never kept.
func (f *File) UnknownEnv() []string { return append([]string(nil), f.unknownEnv...) }
