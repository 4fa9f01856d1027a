package customerapitest

import (
	"fmt"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
)

var (
	outwardCodes = []string{"YO17", "LN11", "NR14", "CB10", "SP11", "HR6", "DL8", "TD15", "EX17", "SY7", "PE20", "IP14"}
	enterprises  = []string{"Combinable Crops", "Beef and Lamb", "Dairy", "Fresh Produce", "Pigs", "Poultry"}
	siteNames    = []string{"Manor Farm", "Home Farm", "Church Farm", "Grange Farm", "Hill Farm", "Park Farm", "Valley Farm", "Moor Farm"}
)

// seedCertificates makes n deterministic certificates: about one in five is
// in Grace (expired within the last 60 days), the others Valid for up to a year.
func seedCertificates(seed uint64, n int, now time.Time) []customerapi.Certificate {
	rng := newRand(seed ^ 0xc0ffee)
	day := now.UTC().Truncate(24 * time.Hour)
	out := make([]customerapi.Certificate, 0, n)
	letters := "ABDEFGHJLNPQRSTUWXYZ"
	for i := 0; i < n; i++ {
		status := customerapi.CertificateValid
		expiry := day.AddDate(0, 0, 1+rng.IntN(365))
		if rng.IntN(5) == 0 {
			status = customerapi.CertificateGrace
			expiry = day.AddDate(0, 0, -rng.IntN(60))
		}
		postcode := fmt.Sprintf("%s %d%c%c", outwardCodes[rng.IntN(len(outwardCodes))], rng.IntN(10),
			letters[rng.IntN(len(letters))], letters[rng.IntN(len(letters))])
		holding := fmt.Sprintf("%02d/%03d/%04d", 1+rng.IntN(99), rng.IntN(1000), rng.IntN(10000))
		ent := enterprises[rng.IntN(len(enterprises))]
		site := siteNames[rng.IntN(len(siteNames))]
		out = append(out, customerapi.Certificate{
			CertificateStatus:     status,
			CertificateIdentifier: fmt.Sprintf("%010X.%012X", rng.Uint64()&0xffffffffff, rng.Uint64()&0xffffffffffff),
			CertificateEnterprises: []customerapi.CertificateEnterprise{
				{EnterpriseIdentifier: fmt.Sprintf("ENT%06d", rng.IntN(1000000)), Enterprise: ent}},
			CertificateExpiryDate: expiry.Format("2006-01-02T15:04:05.000-07:00"),
			CertifiedSites: []customerapi.CertifiedSite{{
				SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: holding},
				IsPrimary:       true, SiteCountry: "GBR", SitePostcode: postcode,
				SiteAddress: fmt.Sprintf("%s, %s", site, postcode), SiteName: site,
			}},
		})
	}
	return out
}

func normPostcode(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

// certMatches reports whether one of c's sites has the normalised postcode
// pc and the holding number hn ("" matches any).
func certMatches(c customerapi.Certificate, pc, hn string) bool {
	for _, site := range c.CertifiedSites {
		if pc != "" && normPostcode(site.SitePostcode) != pc {
			continue
		}
		if hn != "" && (site.SiteIdentifiers == nil || site.SiteIdentifiers.Identifier != hn) {
			continue
		}
		return true
	}
	return false
}

// findCerts matches certificates by country (ISO3), postcode and holding
// number; empty criteria match anything. Certificates come in st.certs
// order.
func (st *state) findCerts(country, postcode, holding string) []customerapi.Certificate {
	out := []customerapi.Certificate{}
	if !strings.EqualFold(country, "GBR") {
		return out
	}
	pc := normPostcode(postcode)
	hn := strings.TrimSpace(holding)
	matches := func(c customerapi.Certificate) bool { return certMatches(c, pc, hn) }
	// A certificate matches through one of its sites, and the index files
	// it under each site's holding number and postcode: the candidates
	// (ascending positions) hold every match, each checked as before.
	var at []int
	switch {
	case hn != "":
		at = st.certIdx.byHolding[hn]
	case pc != "":
		at = st.certIdx.byPostcode[pc]
	default: // no criteria: every certificate with a site
		for _, c := range st.certs {
			if matches(c) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, i := range at {
		if c := st.certs[i]; matches(c) {
			out = append(out, c)
		}
	}
	return out
}
