package config

import (
	"reflect"
	"slices"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
)

// viperDefaults are the defaults given to the loader rather than filled in
// afterwards, so that a key set to "" in the file stays "" (a schedule set
// to "" is off; a reference listen address set to "" runs no server). The
// schedules are the connector's (connector.DefaultSchedules), read off its
// own type.
func viperDefaults() map[string]string {
	d := map[string]string{
		"reference.one_listen":      DefaultRefONeListen,
		"reference.customer_listen": DefaultRefCustListen,
	}
	walk(reflect.ValueOf(connector.DefaultSchedules()), "schedules", func(path string, v reflect.Value) {
		if path != "schedules.time_zone" {
			d[path] = v.String()
		}
	})
	return d
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

	// The connector's sections take the connector's defaults: the same
	// types, assigned back whole, so the printed configuration is the
	// effective one.
	c := f.Connector().Defaults()
	f.StatePath, f.ERP.ERPConfig, f.Schedules, f.Queue = c.StatePath, c.ERP, c.Schedules, c.Queue
	if f.ONe != nil {
		f.ONe.ONeConfig = *c.ONe
	}
	if f.CustomerAPI != nil {
		f.CustomerAPI.CustomerAPIConfig = *c.CustomerAPI
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Connector returns the connector's configuration the file holds (its
// own sections, by value), with the connector's defaults applied.
func (f *File) Connector() connector.Config {
	c := connector.Config{StatePath: f.StatePath, ERP: f.ERP.ERPConfig, Schedules: f.Schedules,
		Ownership: slices.Clone(f.Ownership), Queue: f.Queue}
	if f.ONe != nil {
		one := f.ONe.ONeConfig
		one.Contexts = slices.Clone(one.Contexts)
		c.ONe = &one
	}
	if f.CustomerAPI != nil {
		ca := f.CustomerAPI.CustomerAPIConfig
		c.CustomerAPI = &ca
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
