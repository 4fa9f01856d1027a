package customerapi

import (
	"context"
	"strings"

	capi "github.com/erpconnector/erpconnector/customerapi"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/mapping"
)

// certExpired is the status the connector gives a certificate the
// platform no longer reports as Valid or Grace.
const certExpired = "Expired"

// Enrichable implements platform.Enricher: bound farms get their Red
// Tractor certificate.
func (p *Platform) Enrichable(ref platform.Ref) bool { return ref.Extra[ExtraFarm] == "1" }

// Enrich implements platform.Enricher: it looks up the Red Tractor
// certificate of c's farm (by holding number, or by billing postcode when
// it has none) and returns the change: the certificate found, or a live
// status (Valid, Grace) turned Expired when none covers the farm any more.
func (p *Platform) Enrich(ctx context.Context, c mapping.Customer) (func(mapping.Customer) mapping.Customer, error) {
	q, ok := certQuery(c, p.opts.CertificateCountry)
	if !ok {
		return nil, nil
	}
	certs, err := p.api.RedTractorCertificates(ctx, q)
	if err != nil {
		return nil, err
	}
	cert, found := mapping.PickCertificate(c, certs)
	return func(cur mapping.Customer) mapping.Customer { return withCertificate(cur, cert, found) }, nil
}

// certQuery is the certificate look-up of a farm: by holding number, or by
// billing postcode when it has none. ok is false for a customer that is no
// farm or has neither.
func certQuery(c mapping.Customer, country string) (capi.CertificateQuery, bool) {
	if !mapping.HasFarm(c) {
		return capi.CertificateQuery{}, false
	}
	if h := strings.TrimSpace(c.Farm.HoldingNumber); h != "" {
		return capi.CertificateQuery{Country: country, HoldingNumber: h}, true
	}
	if pc := strings.TrimSpace(c.Billing.Postcode); pc != "" {
		return capi.CertificateQuery{Country: country, Postcode: pc}, true
	}
	return capi.CertificateQuery{}, false
}

// withCertificate returns c with the certificate the look-up found applied
// or, when none covers the farm any more, a live status (Valid, Grace)
// turned into Expired: the platform reports only valid and grace
// certificates.
func withCertificate(c mapping.Customer, cert capi.Certificate, found bool) mapping.Customer {
	out := c.Clone()
	if found && mapping.ApplyCertificate(&out, cert) {
		return out
	}
	switch out.Farm.CertificateStatus {
	case string(capi.CertificateValid), string(capi.CertificateGrace):
		out.Farm.CertificateStatus = certExpired
	}
	return out
}
