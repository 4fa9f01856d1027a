package customerapi

import (
	"encoding/json"
	"fmt"
)

// ToOrganisation converts the flattened record into the full shape, moving
// the company fields into Company.
func (r OrganisationRecord) ToOrganisation() Organisation {
	o := Organisation{
		ID: r.ID, Name: r.Name, Location: r.Location, CountryISO: r.CountryISO,
		Status: r.Status, OwnerContact: r.OwnerContact, Billing: r.Billing,
		SettlementContacts: r.SettlementContacts, Modules: r.Modules,
		Vetted: r.Vetted, IsMerchant: r.IsMerchant,
	}
	if r.CompanyID != "" || r.CompanyHoldingNumber != "" || r.Bio != "" || r.Sqc != nil || r.AssuranceScheme != "" || r.Logo != nil {
		c := &Company{ID: r.CompanyID, HoldingNumber: r.CompanyHoldingNumber, Bio: r.Bio,
			Sqc: r.Sqc, AssuranceScheme: r.AssuranceScheme}
		if r.Logo != nil {
			c.Logo = &ImageRef{ID: r.Logo.ID, URL: r.Logo.URL}
		}
		o.Company = c
	}
	return o
}

// DecodeOrganisation decodes either organisation shape (the full
// Organisation or the flattened OrganisationRecord) into an Organisation.
// The record is recognised by its flattened keys (companyId,
// companyHoldingNumber, bio, advancePay, sqc, assuranceScheme at top level).
func DecodeOrganisation(b []byte) (Organisation, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return Organisation{}, fmt.Errorf("customerapi: decode organisation: %w", err)
	}
	flat := false
	for _, k := range []string{"companyId", "companyHoldingNumber", "bio", "advancePay", "sqc", "assuranceScheme"} {
		if _, ok := keys[k]; ok {
			flat = true
			break
		}
	}
	if _, ok := keys["company"]; ok {
		flat = false
	}
	if flat {
		var r OrganisationRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return Organisation{}, fmt.Errorf("customerapi: decode organisation record: %w", err)
		}
		return r.ToOrganisation(), nil
	}
	var o Organisation
	if err := json.Unmarshal(b, &o); err != nil {
		return Organisation{}, fmt.Errorf("customerapi: decode organisation: %w", err)
	}
	return o, nil
}
