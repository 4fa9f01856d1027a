package connector

import (
	"github.com/erpconnector/erpconnector/mapping"
)

// capiField is one field (or set of fields the platform keeps together)
// that the Customer API carries, with the ownership group it belongs to.
type capiField struct {
	group string
	// farmOnly fields live on the farm business unit's business: an
	// organisation without one holds no value for them.
	farmOnly bool
	copy     func(dst *mapping.Customer, src mapping.Customer)
}

// capiFields lists the fields the Customer API carries, by ownership group:
// master = name, company number, VAT id, billing address, phone, e-mail;
// contact = the owner (admin); farm = holding, scheme, SQC, what3words,
// coordinates. Certificate fields are not listed: they are always the
// platform's (see mergeCAPI).
func capiFields() []capiField {
	return []capiField{
		{group: GroupMaster, copy: func(d *mapping.Customer, s mapping.Customer) { d.Name = s.Name }},
		{group: GroupMaster, copy: func(d *mapping.Customer, s mapping.Customer) { d.CompanyNumber = s.CompanyNumber }},
		{group: GroupMaster, copy: func(d *mapping.Customer, s mapping.Customer) { d.VATID = s.VATID }},
		{group: GroupMaster, copy: func(d *mapping.Customer, s mapping.Customer) {
			// The platform keeps no address phone or external id: those stay the ERP's.
			b := s.Billing
			b.Phone, b.ExternalID = d.Billing.Phone, d.Billing.ExternalID
			d.Billing = b
		}},
		{group: GroupMaster, farmOnly: true, copy: func(d *mapping.Customer, s mapping.Customer) { d.Phone = s.Phone }},
		{group: GroupMaster, farmOnly: true, copy: func(d *mapping.Customer, s mapping.Customer) { d.Email = s.Email }},
		{group: GroupContact, copy: func(d *mapping.Customer, s mapping.Customer) { d.Admin = s.Admin }},
		{group: GroupFarm, copy: func(d *mapping.Customer, s mapping.Customer) { d.Farm.HoldingNumber = s.Farm.HoldingNumber }},
		{group: GroupFarm, copy: func(d *mapping.Customer, s mapping.Customer) { d.Farm.AssuranceScheme = s.Farm.AssuranceScheme }},
		{group: GroupFarm, copy: func(d *mapping.Customer, s mapping.Customer) {
			d.Farm.SQCNumber, d.Farm.SQCAssured = s.Farm.SQCNumber, s.Farm.SQCAssured
		}},
		{group: GroupFarm, farmOnly: true, copy: func(d *mapping.Customer, s mapping.Customer) { d.Farm.What3Words = s.Farm.What3Words }},
		{group: GroupFarm, farmOnly: true, copy: func(d *mapping.Customer, s mapping.Customer) {
			d.Farm.Latitude, d.Farm.Longitude = clonePtr(s.Farm.Latitude), clonePtr(s.Farm.Longitude)
		}},
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// copyGroupCAPI copies the fields of one ownership group that the Customer
// API carries from src (a customer read from the platform) into dst. farm
// says whether to copy the fields kept on a farm business unit (phone,
// e-mail, what3words, coordinates) too: a platform record without a farm
// business unit holds no value for them.
func copyGroupCAPI(dst *mapping.Customer, src mapping.Customer, group string, farm bool) {
	for _, f := range capiFields() {
		if f.group == group && (farm || !f.farmOnly) {
			f.copy(dst, src)
		}
	}
}

// capiPlatformView is what the Customer API holds for a bound customer: the
// ERP record with every field the platform carries taken from the platform
// (fields kept on a farm business unit are empty when it has none). Its
// HashCustomerAPI is what the platform holds, in the terms of the ERP scan.
func capiPlatformView(erpRec, platform mapping.Customer) mapping.Customer {
	v := erpRec.Clone()
	for _, g := range FieldGroups {
		copyGroupCAPI(&v, platform, g, true)
	}
	v.Normalize()
	return v
}

// sameForCAPI reports whether a and b send the Customer API the same thing.
func sameForCAPI(a, b mapping.Customer) bool {
	ha, errA := mapping.HashCustomerAPI(a)
	hb, errB := mapping.HashCustomerAPI(b)
	return errA == nil && errB == nil && ha == hb
}

// mergeCAPI applies a Customer API change to the ERP record by ownership:
// fields of groups the platform owns come from the platform, the rest stay
// as the ERP has them. A field whose platform value means the same to the
// platform as the ERP's (a phone in another notation, say) keeps the ERP's
// form, so the ERP is not rewritten for nothing. farm says whether the
// platform record came with a farm business unit; without one, the fields
// kept there are left alone. The certificate is always the platform's: when
// the platform attached one to the farm, it replaces the ERP's.
func (c Config) mergeCAPI(erpRec, platform mapping.Customer, farm bool) mapping.Customer {
	m := erpRec.Clone()
	for _, f := range capiFields() {
		if c.owner(f.group) != OwnerPlatform || (f.farmOnly && !farm) {
			continue
		}
		cand := m.Clone()
		f.copy(&cand, platform)
		if !sameForCAPI(cand, m) {
			m = cand
		}
	}
	if pf := platform.Farm; pf.CertificateStatus != "" {
		m.Farm.CertificateStatus, m.Farm.CertificateIdentifier, m.Farm.CertificateExpiry =
			pf.CertificateStatus, pf.CertificateIdentifier, pf.CertificateExpiry
	}
	if m.PlatformIDs.CustomerAPI == "" {
		m.PlatformIDs.CustomerAPI = platform.PlatformIDs.CustomerAPI
	}
	m.Normalize()
	return m
}

// certificateOf returns the certificate fields of c.
func certificateOf(c mapping.Customer) [3]string {
	return [3]string{c.Farm.CertificateStatus, c.Farm.CertificateIdentifier, c.Farm.CertificateExpiry}
}
