package connector

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// Config is the connector's typed configuration. The command line loads it
// from a file (and the environment); tests build it directly. Defaults fills
// in what is left out; Validate reports every problem at once.
type Config struct {
	// StatePath is the bbolt state file (queue, cursors, bindings).
	StatePath string `mapstructure:"state_path"`
	// ONe configures the ONe platform; nil turns the ONe pipelines off.
	ONe *ONeConfig `mapstructure:"one"`
	// CustomerAPI configures the Customer API; nil turns its pipelines off.
	CustomerAPI *CustomerAPIConfig `mapstructure:"customer_api"`
	// ERP tunes how the ERP is read and written.
	ERP ERPConfig `mapstructure:"erp"`
	// Schedules are the cron specs (with seconds) of the periodic runs.
	Schedules Schedules `mapstructure:"schedules"`
	// Ownership says which side wins, per field group, when a platform
	// change arrives. Groups not listed are owned by the ERP.
	Ownership []Ownership `mapstructure:"ownership"`
	// Queue tunes the durable queue.
	Queue QueueConfig `mapstructure:"queue"`
}

// ONeConfig configures the ONe platform.
type ONeConfig struct {
	// BaseURL is the scheme and host of the API.
	BaseURL string `mapstructure:"base_url"`
	// Tenant is the one-tenant header.
	Tenant string `mapstructure:"tenant"`
	// APIKey is the ApiAuth header. Secret.
	APIKey string `mapstructure:"api_key"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Contexts are the feed contexts to follow (default APPLICATION,
	// BACKOFFICE, INTERNAL: the connector's own INTEGRATIONS writes are left out).
	Contexts []string `mapstructure:"contexts"`
	// Upstream is the rate limit, workers and breaker of the ONe upstream.
	Upstream Upstream `mapstructure:"upstream"`
	// UpdateMode is "full" (the only mode): an update is a full PUT of the
	// client when its body changed (carrying over what the ERP does not
	// hold) and the finance data when they changed. The partial endpoints
	// ("partial", removed) cannot carry every field: a rename was lost.
	UpdateMode string `mapstructure:"update_mode"`
	// OnUnflag is what happens on ONe when the ERP unflags or deletes a
	// customer: "unbind" (leave the client, forget the link; default) or
	// "delete" (delete the client on ONe).
	OnUnflag string `mapstructure:"on_unflag"`
	// OnDelete is what happens in the ERP when ONe deletes a client:
	// "unlink" (forget the ONe id; default) or "mark-deleted".
	OnDelete string `mapstructure:"on_delete"`
	// PageSize is the page size of full listings (resync), default 200.
	PageSize int `mapstructure:"page_size"`
}

// CustomerAPIConfig configures the Customer API.
type CustomerAPIConfig struct {
	// BaseURL is the scheme and host of the API.
	BaseURL string `mapstructure:"base_url"`
	// Username and Password log in (or APIToken authenticates). Secrets.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	APIToken string `mapstructure:"api_token"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Upstream is the rate limit, workers and breaker of the Customer API upstream.
	Upstream Upstream `mapstructure:"upstream"`
	// PageSize is the page size of organisation listings (default 100).
	PageSize int `mapstructure:"page_size"`
	// CertificateCountry is the ISO3 country used for certificate lookups (default GBR).
	CertificateCountry string `mapstructure:"certificate_country"`
	// OnUnflag is what happens on the Customer API when the ERP unflags or
	// deletes a customer: "unbind" (leave the organisation, forget the
	// link; default) or "deactivate" (set the organisation's status to
	// inactive; it is made active again if the ERP flags the customer again).
	OnUnflag string `mapstructure:"on_unflag"`
	// OnDelete is what happens in the ERP when an organisation is deleted
	// or deactivated on the platform: "unlink" (forget the organisation id;
	// default) or "mark-deleted".
	OnDelete string `mapstructure:"on_delete"`
}

// ERPConfig tunes ERP access. (ERP writes run on the platform's delivery
// workers that cause them: an inbound customer or a write-back is part of
// the platform job that produced it.)
type ERPConfig struct {
	// PageSize is how many changed customers one read returns (default 500).
	PageSize int `mapstructure:"page_size"`
}

// Upstream is the guarded-delivery tuning of one upstream.
type Upstream struct {
	// Rate is requests per second (0: unlimited).
	Rate float64 `mapstructure:"rate"`
	// Burst is the limiter's burst (default 1: requests evenly spaced at Rate).
	Burst int `mapstructure:"burst"`
	// Workers is the number of concurrent deliveries (default 4).
	Workers int `mapstructure:"workers"`
	// BreakerFailures opens the breaker after this many consecutive failures (default 5).
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerOpen is how long the breaker stays open before a probe (default 30s).
	BreakerOpen time.Duration `mapstructure:"breaker_open"`
}

// Schedules are cron specs with a seconds field ("0 */10 * * * *").
// An empty spec turns that run off.
type Schedules struct {
	// NewCustomers pushes ERP customers not yet on the platforms (default every 10 min at :00).
	NewCustomers string `mapstructure:"new_customers"`
	// Updates pushes changed ERP customers (default every 10 min at :50 seconds).
	Updates string `mapstructure:"updates"`
	// Feed polls the ONe client feed (default every 2 min).
	Feed string `mapstructure:"feed"`
	// CustomerPull lists Customer API organisations for changes (default every 10 min).
	CustomerPull string `mapstructure:"customer_pull"`
	// Certificates refreshes Red Tractor certificates (default daily at 03:30).
	Certificates string `mapstructure:"certificates"`
	// Resync runs a full resync (default nightly at 02:00).
	Resync string `mapstructure:"resync"`
	// TimeZone is the IANA zone of the specs (default UTC).
	TimeZone string `mapstructure:"time_zone"`
}

// Field groups for Ownership (see mapping.Groups).
const (
	GroupMaster     = string(mapping.GroupMaster)     // names, tax ids, billing address, phone, e-mails, currency, tax, status
	GroupCommercial = string(mapping.GroupCommercial) // account manager, warehouses, segments, payment terms, payer, blockade, bank
	GroupAdditional = string(mapping.GroupAdditional) // tenant-configured additional fields
	GroupContact    = string(mapping.GroupContact)    // the administrator contact
	GroupFarm       = string(mapping.GroupFarm)       // holding, assurance, location, certificates
)

// FieldGroups lists the ownership groups.
var FieldGroups = []string{GroupMaster, GroupCommercial, GroupAdditional, GroupContact, GroupFarm}

// Owners.
const (
	OwnerERP      = string(mapping.OwnerERP)
	OwnerPlatform = string(mapping.OwnerPlatform)
)

// Ownership assigns a field group to the ERP or to the platforms.
type Ownership struct {
	// Group is one of FieldGroups.
	Group string `mapstructure:"group"`
	// Owner is "erp" or "platform".
	Owner string `mapstructure:"owner"`
}

// QueueConfig tunes the durable queue.
type QueueConfig struct {
	// MaxAttempts before a job goes to the dead letters (default 10).
	MaxAttempts int `mapstructure:"max_attempts"`
	// LeaseTimeout before an unfinished job returns to ready (default 2m).
	LeaseTimeout time.Duration `mapstructure:"lease_timeout"`
	// HealAfter is how long a record the platform refused waits in the
	// dead letters before the connector tries it again by itself (it may
	// have been fixed on the platform side); each further try waits twice
	// as long, up to a day (default 5m).
	HealAfter time.Duration `mapstructure:"heal_after"`
}

// Default cadences, after the platform's ERP guidance.
const (
	DefaultNewCustomers = "0 */10 * * * *"
	DefaultUpdates      = "50 */10 * * * *"
	DefaultFeed         = "0 */2 * * * *"
	DefaultCustomerPull = "30 */10 * * * *"
	DefaultCertificates = "0 30 3 * * *"
	DefaultResync       = "0 0 2 * * *"
)

// Defaults returns c with every unset value given its default.
func (c Config) Defaults() Config {
	if c.StatePath == "" {
		c.StatePath = "data/state.db"
	}
	if c.ONe != nil {
		one := *c.ONe
		if one.Timeout == 0 {
			one.Timeout = 30 * time.Second
		}
		if one.Contexts == nil {
			one.Contexts = []string{string(oneapi.ContextApplication), string(oneapi.ContextBackoffice), string(oneapi.ContextInternal)}
		}
		if one.UpdateMode == "" {
			one.UpdateMode = "full"
		}
		if one.OnUnflag == "" {
			one.OnUnflag = "unbind"
		}
		if one.OnDelete == "" {
			one.OnDelete = "unlink"
		}
		if one.PageSize == 0 {
			one.PageSize = 200
		}
		one.Upstream = one.Upstream.defaults()
		c.ONe = &one
	}
	if c.CustomerAPI != nil {
		ca := *c.CustomerAPI
		if ca.Timeout == 0 {
			ca.Timeout = 30 * time.Second
		}
		if ca.PageSize == 0 {
			ca.PageSize = 100
		}
		if ca.CertificateCountry == "" {
			ca.CertificateCountry = "GBR"
		}
		if ca.OnUnflag == "" {
			ca.OnUnflag = "unbind"
		}
		if ca.OnDelete == "" {
			ca.OnDelete = "unlink"
		}
		ca.Upstream = ca.Upstream.defaults()
		c.CustomerAPI = &ca
	}
	if c.ERP.PageSize == 0 {
		c.ERP.PageSize = 500
	}
	if c.Queue.MaxAttempts == 0 {
		c.Queue.MaxAttempts = 10
	}
	if c.Queue.HealAfter == 0 {
		c.Queue.HealAfter = 5 * time.Minute
	}
	if c.Queue.LeaseTimeout == 0 {
		c.Queue.LeaseTimeout = 2 * time.Minute
	}
	if c.Schedules.TimeZone == "" {
		c.Schedules.TimeZone = "UTC"
	}
	return c
}

// DefaultSchedules returns the vendor-guided cadences.
func DefaultSchedules() Schedules {
	return Schedules{NewCustomers: DefaultNewCustomers, Updates: DefaultUpdates, Feed: DefaultFeed,
		CustomerPull: DefaultCustomerPull, Certificates: DefaultCertificates, Resync: DefaultResync, TimeZone: "UTC"}
}

func (u Upstream) defaults() Upstream {
	if u.Workers == 0 {
		u.Workers = 4
	}
	if u.Rate > 0 && u.Burst == 0 {
		u.Burst = 1
	}
	if u.BreakerFailures == 0 {
		u.BreakerFailures = 5
	}
	if u.BreakerOpen == 0 {
		u.BreakerOpen = 30 * time.Second
	}
	return u
}

// cronParser reads specs with a seconds field and the usual descriptors.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses one spec; a spec the cron library would panic on is
// an error here.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid schedule %q", spec)
		}
	}()
	if strings.HasPrefix(strings.TrimSpace(spec), "TZ=") || strings.HasPrefix(strings.TrimSpace(spec), "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: set the zone with schedules.time_zone, not in the spec", spec)
	}
	return cronParser.Parse(spec)
}

func (s Schedules) validate() []error {
	var errs []error
	for name, spec := range map[string]string{"new_customers": s.NewCustomers, "updates": s.Updates, "feed": s.Feed,
		"customer_pull": s.CustomerPull, "certificates": s.Certificates, "resync": s.Resync} {
		if spec == "" {
			continue
		}
		if _, err := ParseSchedule(spec); err != nil {
			errs = append(errs, fieldError("schedules."+name, "%s", err))
		}
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			errs = append(errs, fieldError("schedules.time_zone", "%s", err))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// ownership is the configured ownership in the mapping's terms.
func (c Config) ownership() mapping.Ownership {
	own := mapping.Ownership{}
	for _, o := range c.Ownership {
		own[mapping.Group(o.Group)] = mapping.Owner(o.Owner)
	}
	return own
}
