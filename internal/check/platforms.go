package check

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/connector/customerapi"
	"github.com/erpconnector/erpconnector/connector/one"
	capi "github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// platforms builds each configured platform (for Prepare) with its
// read-only request: ONe lists one client, the Customer API logs in and
// lists one organisation.
func platforms(cfg connector.Config, version string, log *slog.Logger) ([]checked, []PlatformReport) {
	var out []checked
	var reps []PlatformReport
	ua := "erpconnector/" + version
	if o := cfg.ONe; o != nil {
		rep := PlatformReport{Platform: string(mapping.PlatformONe), URL: o.BaseURL, Request: "list 1 client"}
		api, err := oneapi.New(oneapi.Config{BaseURL: o.BaseURL, Tenant: o.Tenant, APIKey: o.APIKey, Timeout: o.Timeout,
			UserAgent: ua, Logger: log})
		c := checked{p: one.New(api, one.Options{Logger: log})}
		c.probe = func(ctx context.Context, r PlatformReport) PlatformReport {
			if err != nil {
				return platformError(r, err)
			}
			defer api.CloseIdleConnections()
			if _, err := api.ListClients(ctx, 1, 1); err != nil {
				return platformError(r, err)
			}
			r.OK = true
			return r
		}
		out, reps = append(out, c), append(reps, rep)
	}
	if ca := cfg.CustomerAPI; ca != nil {
		rep := PlatformReport{Platform: string(mapping.PlatformCustomerAPI), URL: ca.BaseURL, Request: "log in, list 1 organisation"}
		if ca.APIToken != "" {
			rep.Request = "authenticate the API token, list 1 organisation"
		}
		hc := &http.Client{}
		api, err := capi.New(capi.Options{BaseURL: ca.BaseURL, Timeout: ca.Timeout, Version: version, HTTPClient: hc,
			Credentials: capi.Credentials{Username: ca.Username, Password: ca.Password, APIToken: ca.APIToken}, Logger: log})
		c := checked{p: customerapi.New(api, customerapi.Options{Logger: log})}
		c.probe = func(ctx context.Context, r PlatformReport) PlatformReport {
			if err != nil {
				return platformError(r, err)
			}
			defer hc.CloseIdleConnections()
			if _, err := api.ListOrganisations(ctx, capi.OrganisationQuery{Limit: 1}); err != nil {
				return platformError(r, err)
			}
			r.OK = true
			return r
		}
		out, reps = append(out, c), append(reps, rep)
	}
	return out, reps
}

// credentialsRefused reports whether err says the platform refused the
// credentials.
func credentialsRefused(err error) bool {
	return apierr.Classify(err) == apierr.Unauthorized
}
