package connector

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/internal/problem"
	"github.com/erpconnector/erpconnector/oneapi"
)

// Validate reports every problem of the configuration, each with its path.
func (c Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, fieldError(path, format, args...)) }
	if c.StatePath == "" {
		add("state_path", "must not be empty")
	}
	if c.ONe == nil && c.CustomerAPI == nil {
		add("one", "at least one platform (one or customer_api) must be configured")
	}
	if c.ONe != nil {
		errs = append(errs, c.ONe.validate()...)
	}
	if c.CustomerAPI != nil {
		errs = append(errs, c.CustomerAPI.validate()...)
	}
	if c.ERP.PageSize < 1 || c.ERP.PageSize > 10000 {
		add("erp.page_size", "must be between 1 and 10000 (the platform asks for at most 10,000 lines a request)")
	}
	errs = append(errs, c.Schedules.validate()...)
	errs = append(errs, validateOwnership(c.Ownership)...)
	if c.Queue.MaxAttempts < 1 {
		add("queue.max_attempts", "must be at least 1")
	}
	errs = append(errs, positive("queue.lease_timeout", c.Queue.LeaseTimeout, "2m")...)
	errs = append(errs, positive("queue.heal_after", c.Queue.HealAfter, "5m")...)
	return errors.Join(errs...)
}

// fieldError is a problem with the configuration key path.
func fieldError(path, format string, args ...any) error {
	return problem.New(path, format, args...)
}

// validate lists the problems of the one section.
func (o *ONeConfig) validate() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, fieldError(path, format, args...)) }
	if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
		add("one.base_url", "must be an http(s) URL")
	}
	if o.Tenant == "" {
		add("one.tenant", "must not be empty")
	}
	if o.APIKey == "" {
		add("one.api_key", "must not be empty")
	}
	for i, cx := range o.Contexts {
		if _, ok := oneapi.Context(cx).Canonical(); !ok {
			add(fmt.Sprintf("one.contexts[%d]", i), "unknown context %q", cx)
		}
	}
	switch o.UpdateMode {
	case "full":
	case "partial":
		add("one.update_mode", "partial is no longer supported: the partial endpoints cannot carry every field "+
			"(a rename was lost); remove the key: updates send the full client, keeping what the ERP does not hold")
	default:
		add("one.update_mode", "must be full")
	}
	if !slices.Contains([]string{"unbind", "delete"}, o.OnUnflag) {
		add("one.on_unflag", "must be unbind or delete")
	}
	if !slices.Contains([]string{"unlink", "mark-deleted"}, o.OnDelete) {
		add("one.on_delete", "must be unlink or mark-deleted")
	}
	errs = append(errs, positive("one.timeout", o.Timeout, "30s")...)
	if o.PageSize < 1 {
		add("one.page_size", "must be at least 1 (leave it out for the default, 200)")
	}
	return append(errs, o.Upstream.validate("one.upstream")...)
}

// validate lists the problems of the customer_api section.
func (ca *CustomerAPIConfig) validate() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, fieldError(path, format, args...)) }
	if !strings.HasPrefix(ca.BaseURL, "http://") && !strings.HasPrefix(ca.BaseURL, "https://") {
		add("customer_api.base_url", "must be an http(s) URL")
	}
	if ca.APIToken == "" && (ca.Username == "" || ca.Password == "") {
		add("customer_api.username", "username and password, or api_token, are required")
	}
	if !slices.Contains([]string{"unbind", "deactivate"}, ca.OnUnflag) {
		add("customer_api.on_unflag", "must be unbind or deactivate")
	}
	if !slices.Contains([]string{"unlink", "mark-deleted"}, ca.OnDelete) {
		add("customer_api.on_delete", "must be unlink or mark-deleted")
	}
	errs = append(errs, positive("customer_api.timeout", ca.Timeout, "30s")...)
	if ca.PageSize < 1 {
		add("customer_api.page_size", "must be at least 1 (leave it out for the default, 100)")
	}
	return append(errs, ca.Upstream.validate("customer_api.upstream")...)
}

// validateOwnership lists the problems of the ownership list.
func validateOwnership(list []Ownership) []error {
	var errs []error
	seen := map[string]bool{}
	for i, o := range list {
		p := fmt.Sprintf("ownership[%d]", i)
		if !slices.Contains(FieldGroups, o.Group) {
			errs = append(errs, fieldError(p+".group", "must be one of %s", strings.Join(FieldGroups, ", ")))
		} else if seen[o.Group] {
			errs = append(errs, fieldError(p+".group", "%s is listed twice", o.Group))
		}
		seen[o.Group] = true
		if o.Owner != OwnerERP && o.Owner != OwnerPlatform {
			errs = append(errs, fieldError(p+".owner", "must be erp or platform"))
		}
	}
	return errs
}

// positive refuses a duration that is zero or negative: after Defaults a
// zero has become the default, so only a negative one is left to refuse
// (a Config validated without Defaults must hold every value).
func positive(path string, d time.Duration, def string) []error {
	if d > 0 {
		return nil
	}
	return []error{fieldError(path, "must be positive, got %s (leave it out for the default, %s)", d, def)}
}

func (u Upstream) validate(path string) []error {
	var errs []error
	switch {
	case math.IsNaN(u.Rate):
		errs = append(errs, fieldError(path+".rate", "must be a number of requests per second, got NaN"))
	case math.IsInf(u.Rate, 0):
		errs = append(errs, fieldError(path+".rate", "must be finite, got %v (0 means unlimited)", u.Rate))
	case u.Rate < 0:
		errs = append(errs, fieldError(path+".rate", "must not be negative (0 means unlimited)"))
	case u.Rate > 0 && u.Burst == 0:
		errs = append(errs, fieldError(path+".burst", "must be at least 1 when rate is set"))
	}
	if u.Burst < 0 {
		errs = append(errs, fieldError(path+".burst", "must not be negative"))
	}
	if u.Workers < 1 || u.Workers > 256 {
		errs = append(errs, fieldError(path+".workers", "must be between 1 and 256"))
	}
	if u.BreakerFailures < 1 {
		errs = append(errs, fieldError(path+".breaker_failures", "must be at least 1"))
	}
	errs = append(errs, positive(path+".breaker_open", u.BreakerOpen, "30s")...)
	return errs
}
