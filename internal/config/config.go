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
// File.Connector assembles the connector.Config its sections hold; OpenERP opens the configured
// ERP adapter (creating the demo schema for a demo file) and SeedDemo fills
// an empty demo ERP with generated customers.
package config

import (
	"github.com/erpconnector/erpconnector/connector"
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

// Default values of the file's own keys (the connector's sections take
// theirs from connector.Config.Defaults, the one place they are set).
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
// The connector's sections are the connector's own types (connector.Config
// and its parts, with their mapstructure keys); File adds only what the
// file itself holds: secret files, the ERP adapter, logging, the admin API,
// the reference servers and the demo.
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
	Schedules connector.Schedules `mapstructure:"schedules"`
	// Ownership says which side wins, per field group (master, commercial,
	// additional, contact, farm), when a platform change arrives.
	Ownership []connector.Ownership `mapstructure:"ownership"`
	// Queue tunes the durable queue.
	Queue connector.QueueConfig `mapstructure:"queue"`
	// Reference runs the embedded reference servers (the demo). When
	// enabled, the one and customer_api sections default to them.
	Reference Reference `mapstructure:"reference"`
	// Demo seeds the demo ERP and drives the reference storefront.
	Demo Demo `mapstructure:"demo"`

	path       string   // the file loaded ("" for environment only)
	dataDir    string   // the embedded demo's data directory ("" for a file)
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

// ONe configures the ONe platform: the connector's own section
// (connector.ONeConfig, its keys and defaults) and the file's api_key_file.
type ONe struct {
	connector.ONeConfig `mapstructure:",squash"`
	// APIKeyFile is a file holding APIKey (one trailing newline is trimmed).
	APIKeyFile string `mapstructure:"api_key_file"`
}

// CustomerAPI configures the Customer API: the connector's own section
// (connector.CustomerAPIConfig) and the files its secrets may come from.
type CustomerAPI struct {
	connector.CustomerAPIConfig `mapstructure:",squash"`
	// PasswordFile is a file holding Password (one trailing newline is trimmed).
	PasswordFile string `mapstructure:"password_file"`
	// APITokenFile is a file holding APIToken (one trailing newline is trimmed).
	APITokenFile string `mapstructure:"api_token_file"`
}

// ERP chooses and configures the ERP adapter: the connector's own section
// (connector.ERPConfig: page_size) and the adapter's configuration.
type ERP struct {
	// Adapter is sql (a table or view; default) or files (a drop folder).
	Adapter string `mapstructure:"adapter"`
	// ERPConfig is the connector's reading of the ERP (page_size, default
	// 500, at most 10000).
	connector.ERPConfig `mapstructure:",squash"`
	// SQL configures the sql adapter.
	SQL SQL `mapstructure:"sql"`
	// Files configures the files adapter.
	Files fileerp.Config `mapstructure:"files"`
}

// SQL is the sql adapter's configuration: the fields of sqlerp.Config plus
// dsn_file.
type SQL struct {
	sqlerp.Config `mapstructure:",squash"`
	// DSNFile is a file holding the DSN (one trailing newline is trimmed),
	// for a DSN with a password.
	DSNFile string `mapstructure:"dsn_file"`
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

// Name names where the configuration came from, for messages: the file's
// path, or EmbeddedDemoName.
func (f *File) Name() string {
	if f.dataDir != "" {
		return EmbeddedDemoName
	}
	return f.path
}

// UnknownEnv returns the names of ERPCONNECTOR_ environment variables that
// match no key (probably misspelt; they were ignored). Values are never kept.
func (f *File) UnknownEnv() []string { return append([]string(nil), f.unknownEnv...) }
