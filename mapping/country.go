package mapping

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// countryNames names regions in English.
var countryNames = display.English.Regions()

// CountryName is the address's country as text: the name the ERP gave
// (billing.country_name), or else the English name of its ISO 3166-1
// alpha-2 code ("PL" → "Poland"), or "" when it has neither. ONe wants a
// country name on every billing address; most ERPs hold only the code.
func CountryName(a Address) string {
	if strings.TrimSpace(a.CountryName) != "" {
		return a.CountryName
	}
	if !ValidISO2(a.CountryISO2) {
		return ""
	}
	r, err := language.ParseRegion(a.CountryISO2)
	if err != nil {
		return ""
	}
	return countryNames.Name(r)
}
