package config

import (
	"slices"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
)

// viperDefaults are the defaults given to the loader rather than filled in
// afterwards, so that a key set to "" in the file stays "" (a schedule set
// to "" is off; a reference listen address set to "" runs no server).
func viperDefaults() map[string]string {
	return map[string]string{
		"schedules.new_customers":   connector.DefaultNewCustomers,
		"schedules.updates":         connector.DefaultUpdates,
		"schedules.feed":            connector.DefaultFeed,
		"schedules.customer_pull":   connector.DefaultCustomerPull,
		"schedules.certificates":    connector.DefaultCertificates,
		"schedules.resync":          connector.DefaultResync,
		"reference.one_listen":      DefaultRefONeListen,
		"reference.customer_listen": DefaultRefCustListen,
	}
}

// applyDefaults fills in every unset value: the file's own defaults, the
// reference servers' endpoints and credentials when they are enabled, and
// the connector's defaults (connector.Config.Defaults, copied back so that
// the printed configuration is the effective one).
func (f *File) applyDefaults() {
	if f.LogLevel == "" {
		f.LogLevel = DefaultLogLevel
	}
	if f.LogFormat == "" {
		f.LogFormat = DefaultLogFormat
	}
	if f.Admin.Listen == "" {
		f.Admin.Listen = DefaultAdminListen
	}
	r := &f.Reference
	r.ONeTenant = orDefault(r.ONeTenant, DefaultRefONeTenant)
	r.ONeAPIKey = orDefault(r.ONeAPIKey, DefaultRefONeAPIKey)
	r.CustomerUser = orDefault(r.CustomerUser, DefaultRefCustUser)
	r.CustomerPassword = orDefault(r.CustomerPassword, DefaultRefCustPassword)
	if r.Enabled && r.ONeListen != "" {
		if f.ONe == nil {
			f.ONe = &ONe{}
		}
		f.ONe.BaseURL = orDefault(f.ONe.BaseURL, "http://"+r.ONeListen)
		f.ONe.Tenant = orDefault(f.ONe.Tenant, r.ONeTenant)
		if f.ONe.APIKeyFile == "" {
			f.ONe.APIKey = orDefault(f.ONe.APIKey, r.ONeAPIKey)
		}
	}
	if r.Enabled && r.CustomerListen != "" {
		if f.CustomerAPI == nil {
			f.CustomerAPI = &CustomerAPI{}
		}
		ca := f.CustomerAPI
		ca.BaseURL = orDefault(ca.BaseURL, "http://"+r.CustomerListen)
		if ca.APIToken == "" && ca.APITokenFile == "" {
			ca.Username = orDefault(ca.Username, r.CustomerUser)
			if ca.PasswordFile == "" {
				ca.Password = orDefault(ca.Password, r.CustomerPassword)
			}
		}
	}
	f.ERP.Adapter = orDefault(f.ERP.Adapter, AdapterSQL)
	if f.ERP.Adapter == AdapterSQL {
		f.ERP.SQL.Driver = orDefault(f.ERP.SQL.Driver, "sqlite")
		f.ERP.SQL.CursorKind = orDefault(f.ERP.SQL.CursorKind, sqlerp.CursorTimestamp)
	}

	c := f.Connector().Defaults()
	f.StatePath = c.StatePath
	if f.ONe != nil {
		o := f.ONe
		o.Timeout, o.Contexts, o.UpdateMode, o.OnUnflag, o.OnDelete, o.PageSize =
			c.ONe.Timeout, slices.Clone(c.ONe.Contexts), c.ONe.UpdateMode, c.ONe.OnUnflag, c.ONe.OnDelete, c.ONe.PageSize
		o.Upstream = fromUpstream(c.ONe.Upstream)
	}
	if f.CustomerAPI != nil {
		ca := f.CustomerAPI
		ca.Timeout, ca.PageSize, ca.CertificateCountry = c.CustomerAPI.Timeout, c.CustomerAPI.PageSize, c.CustomerAPI.CertificateCountry
		ca.OnUnflag, ca.OnDelete = c.CustomerAPI.OnUnflag, c.CustomerAPI.OnDelete
		ca.Upstream = fromUpstream(c.CustomerAPI.Upstream)
	}
	f.ERP.PageSize = c.ERP.PageSize
	f.ERP.Upstream.Workers = c.ERP.Upstream.Workers
	f.Queue.MaxAttempts, f.Queue.LeaseTimeout, f.Queue.HealAfter = c.Queue.MaxAttempts, c.Queue.LeaseTimeout, c.Queue.HealAfter
	f.Schedules.TimeZone = c.Schedules.TimeZone
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func fromUpstream(u connector.Upstream) Upstream {
	return Upstream{Rate: u.Rate, Burst: u.Burst, Workers: u.Workers, BreakerFailures: u.BreakerFailures, BreakerOpen: u.BreakerOpen}
}

func (u Upstream) connector() connector.Upstream {
	return connector.Upstream{Rate: u.Rate, Burst: u.Burst, Workers: u.Workers, BreakerFailures: u.BreakerFailures, BreakerOpen: u.BreakerOpen}
}

// Connector converts the file to the connector's configuration, with the
// connector's defaults applied (connector.Config.Defaults).
func (f *File) Connector() connector.Config {
	c := connector.Config{
		StatePath: f.StatePath,
		ERP: connector.ERPConfig{PageSize: f.ERP.PageSize,
			Upstream: connector.Upstream{Workers: f.ERP.Upstream.Workers}},
		Schedules: connector.Schedules{NewCustomers: f.Schedules.NewCustomers, Updates: f.Schedules.Updates,
			Feed: f.Schedules.Feed, CustomerPull: f.Schedules.CustomerPull, Certificates: f.Schedules.Certificates,
			Resync: f.Schedules.Resync, TimeZone: f.Schedules.TimeZone},
		Queue: connector.QueueConfig{MaxAttempts: f.Queue.MaxAttempts, LeaseTimeout: f.Queue.LeaseTimeout, HealAfter: f.Queue.HealAfter},
	}
	for _, o := range f.Ownership {
		c.Ownership = append(c.Ownership, connector.Ownership{Group: o.Group, Owner: o.Owner})
	}
	if o := f.ONe; o != nil {
		c.ONe = &connector.ONeConfig{BaseURL: o.BaseURL, Tenant: o.Tenant, APIKey: o.APIKey, Timeout: o.Timeout,
			Contexts: slices.Clone(o.Contexts), Upstream: o.Upstream.connector(), UpdateMode: o.UpdateMode,
			OnUnflag: o.OnUnflag, OnDelete: o.OnDelete, PageSize: o.PageSize}
	}
	if ca := f.CustomerAPI; ca != nil {
		c.CustomerAPI = &connector.CustomerAPIConfig{BaseURL: ca.BaseURL, Username: ca.Username, Password: ca.Password,
			APIToken: ca.APIToken, Timeout: ca.Timeout, Upstream: ca.Upstream.connector(), PageSize: ca.PageSize,
			CertificateCountry: ca.CertificateCountry, OnUnflag: ca.OnUnflag, OnDelete: ca.OnDelete}
	}
	return c.Defaults()
}

// SetReferenceURLs points the one and customer_api sections at the
// reference servers actually started (their bound addresses, useful when
// listening on port 0). An empty URL leaves that section as it is.
func (f *File) SetReferenceURLs(oneURL, customerURL string) {
	if oneURL != "" && f.ONe != nil {
		f.ONe.BaseURL = oneURL
	}
	if customerURL != "" && f.CustomerAPI != nil {
		f.CustomerAPI.BaseURL = customerURL
	}
	f.refBound = true
}
