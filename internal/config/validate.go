package config

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/internal/problem"
)

// Validate reports every problem of the configuration at once, as an
// *Error whose problems each carry their key path, in a deterministic
// order: the connector's rules (connector.Config.Validate: among them
// rates that are NaN, infinite or negative, and timeouts, page sizes,
// lease and breaker durations that are negative: a zero or a key left out
// means the default), the ERP adapter's (sqlerp or fileerp
// Config.Validate, whose typed problems are placed under erp.sql or
// erp.files) and the file's own (log settings, admin address, reference
// servers, demo). Defaults are applied to a copy first, so a File built by
// hand validates as the connector would run it.
func (f *File) Validate() error {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, f.LogLevel) {
		add("log_level", "must be debug, info, warn or error")
	}
	if !slices.Contains([]string{"json", "text"}, f.LogFormat) {
		add("log_format", "must be json or text")
	}
	if host, _, err := net.SplitHostPort(f.Admin.Listen); err != nil {
		add("admin.listen", "must be host:port (e.g. %s)", DefaultAdminListen)
	} else if !isLoopback(host) && f.Admin.Token == "" {
		add("admin.listen", "must be a loopback address (127.0.0.1, ::1 or localhost) unless admin.token is set")
	}

	ps = append(ps, problem.List(f.Connector().Validate())...)

	switch f.ERP.Adapter {
	case AdapterSQL:
		if f.ERP.SQL.DSN == "" {
			add("erp.sql.dsn", "must not be empty (or set erp.sql.dsn_file)")
		}
		ps = append(ps, problem.Under("erp.sql", f.ERP.SQL.Config.Validate())...)
		if !reflect.ValueOf(f.ERP.Files).IsZero() {
			add("erp.files", "is set but erp.adapter is sql")
		}
	case AdapterFiles:
		ps = append(ps, problem.Under("erp.files", f.ERP.Files.Validate())...)
		if !reflect.ValueOf(f.ERP.SQL).IsZero() {
			add("erp.sql", "is set but erp.adapter is files")
		}
	default:
		add("erp.adapter", "must be sql or files")
	}

	ps = append(ps, f.referenceProblems()...)

	d := f.Demo
	for _, n := range []struct {
		key string
		v   int
	}{{"demo.seed_customers", d.SeedCustomers}, {"demo.invalid_every", d.InvalidEvery}, {"demo.storefront_registrations", d.StorefrontRegistrations}} {
		if n.v < 0 {
			add(n.key, "must not be negative")
		}
	}
	if d.SeedCustomers > 0 && (!f.Reference.Enabled || f.ERP.Adapter != AdapterSQL) {
		add("demo.seed_customers", "needs reference.enabled and erp.adapter sql (it writes the demo ERP layout)")
	}
	if d.StorefrontRegistrations > 0 && (!f.Reference.Enabled || f.Reference.ONeListen == "") {
		add("demo.storefront_registrations", "needs reference.enabled with a reference.one_listen")
	}
	if len(ps) == 0 {
		return nil
	}
	return &Error{File: f.path, Problems: sortProblems(ps)}
}

// referenceProblems checks that the reference section is usable and that
// the platform sections point at it while it is enabled.
func (f *File) referenceProblems() []Problem {
	r := f.Reference
	if !r.Enabled {
		return nil
	}
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if r.ONeListen == "" && r.CustomerListen == "" {
		add("reference.one_listen", "one_listen or customer_listen is needed while reference.enabled is true")
	}
	if r.ONeListen != "" && r.ONeListen == r.CustomerListen && !strings.HasSuffix(r.ONeListen, ":0") {
		add("reference.customer_listen", "must differ from reference.one_listen")
	}
	check := func(key, addr string) (port string, ok bool) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !isLoopback(host) {
			add(key, "must be a loopback host:port (the reference servers are for tests and demos)")
			return "", false
		}
		return port, true
	}
	if r.ONeListen != "" {
		port, ok := check("reference.one_listen", r.ONeListen)
		if r.ONeTenant == "" {
			add("reference.one_tenant", "must not be empty")
		}
		if r.ONeAPIKey == "" {
			add("reference.one_api_key", "must not be empty")
		}
		if o := f.ONe; o != nil {
			if ok && !f.refBound && port != "0" && o.BaseURL != "http://"+r.ONeListen {
				add("one.base_url", "must be http://%s (reference.one_listen) while reference.enabled is true", r.ONeListen)
			}
			if o.Tenant != r.ONeTenant {
				add("one.tenant", "must be reference.one_tenant (%s) while reference.enabled is true", r.ONeTenant)
			}
			if o.APIKey != r.ONeAPIKey {
				add("one.api_key", "must equal reference.one_api_key while reference.enabled is true")
			}
		}
	}
	if r.CustomerListen != "" {
		port, ok := check("reference.customer_listen", r.CustomerListen)
		if r.CustomerUser == "" {
			add("reference.customer_user", "must not be empty")
		}
		if r.CustomerPassword == "" {
			add("reference.customer_password", "must not be empty")
		}
		if ca := f.CustomerAPI; ca != nil {
			if ok && !f.refBound && port != "0" && ca.BaseURL != "http://"+r.CustomerListen {
				add("customer_api.base_url", "must be http://%s (reference.customer_listen) while reference.enabled is true", r.CustomerListen)
			}
			if ca.APIToken != "" {
				add("customer_api.api_token", "must be empty while reference.enabled is true (the reference server logs in with username and password)")
			}
			if ca.Username != r.CustomerUser {
				add("customer_api.username", "must be reference.customer_user (%s) while reference.enabled is true", r.CustomerUser)
			}
			if ca.Password != r.CustomerPassword {
				add("customer_api.password", "must equal reference.customer_password while reference.enabled is true")
			}
		}
	}
	return ps
}

// isLoopback reports whether a listen host only accepts local connections.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
