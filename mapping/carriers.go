package mapping

// The fields each platform carries, by ownership group, and how they differ
// from a plain copy. Fields a platform never returns (ONe's internal
// nickname, trade credit and address external id; anything of another
// platform) are not listed: the ERP's value always stands for them.

func names(n ...string) []string { return n }

// ONeCarrier is what ONe carries of a customer.
var ONeCarrier = &Carrier{
	Fields: []Carried{
		{Names: names("name", "tin", "tin_code", "business_registration_number"), Group: GroupMaster},
		{Names: names("billing.street", "billing.line2", "billing.line3"), Group: GroupMaster, Copy: copyONeStreet},
		{Names: names("billing.name", "billing.postcode", "billing.city", "billing.country_name", "billing.phone",
			"phone", "invoice_email", "additional_invoice_emails", "invoice_agreement", "currency", "tax_payer",
			"tax_type", "client_status", "account_types"), Group: GroupMaster},
		{Names: names("account_manager_id", "warehouse_id", "additional_warehouse_ids", "segment_id",
			"additional_segment_ids", "payment_id", "term_payment_id", "payer_id", "bank_account", "blockade_id"),
			Group: GroupCommercial},
		{Names: names(additionalAll), Group: GroupAdditional},
		{Names: names("admin.name", "admin.email", "admin.phone"), Group: GroupContact},
	},
	FixView: func(v *Customer, erpRec, plat Customer) {
		// Values ONe fills in by itself when the ERP sends none (a default
		// account manager, the client as its own payer, no first user) are
		// the ERP's empty value, so they never look like drift.
		if erpRec.AccountManagerID == "" {
			v.AccountManagerID = ""
		}
		if erpRec.PayerID == "" || plat.PayerID == plat.PlatformIDs.ONe {
			v.PayerID = erpRec.PayerID
		}
		if erpRec.Admin.IsZero() {
			v.Admin = erpRec.Admin
		}
		// ONe holds the ERP key as the client's external id: a client that
		// lacks it (registered in the storefront) or holds another differs.
		v.ERPKey = plat.ERPKey
	},
	FixMerge: func(m *Customer, erpRec, plat Customer) {
		if erpRec.PayerID == "" && plat.PayerID == plat.PlatformIDs.ONe {
			m.PayerID = "" // the platform's default: the client pays for itself
		}
		if m.PlatformIDs.ONe == "" {
			m.PlatformIDs.ONe = plat.PlatformIDs.ONe
		}
	},
}

// copyONeStreet takes ONe's one street line; the ERP's split lines stay
// when they join to the same text.
func copyONeStreet(dst *Customer, src Customer) {
	if oneStreet(dst.Billing) != src.Billing.Street {
		dst.Billing.Street, dst.Billing.Line2, dst.Billing.Line3 = src.Billing.Street, "", ""
	}
}

// CustomerAPICarrier is what the Customer API carries of a customer. The
// phone, e-mail, what3words and coordinates live on the farm business
// unit's business: a record without one holds no value for them (a
// partial record). Certificates are always the platform's.
var CustomerAPICarrier = &Carrier{
	Fields: []Carried{
		{Names: names("name", "company_number", "vat_id", "billing.name", "billing.street", "billing.line2",
			"billing.line3", "billing.postcode", "billing.city", "billing.region", "billing.country_name",
			"billing.country_iso2"), Group: GroupMaster},
		{Names: names("phone", "email"), Group: GroupMaster, Optional: true},
		{Names: names("admin.name", "admin.email", "admin.phone"), Group: GroupContact},
		{Names: names("farm.holding_number", "farm.assurance_scheme"), Group: GroupFarm},
		{Names: names("farm.sqc_number", "farm.sqc_assured"), Group: GroupFarm, Copy: func(d *Customer, s Customer) {
			d.Farm.SQCNumber, d.Farm.SQCAssured = s.Farm.SQCNumber, s.Farm.SQCAssured
		}},
		{Names: names("farm.what3words"), Group: GroupFarm, Optional: true},
		{Names: names("farm.latitude", "farm.longitude"), Group: GroupFarm, Optional: true, Copy: func(d *Customer, s Customer) {
			d.Farm.Latitude, d.Farm.Longitude = clonePtr(s.Farm.Latitude), clonePtr(s.Farm.Longitude)
		}},
	},
	FixMerge: func(m *Customer, _, plat Customer) {
		if pf := plat.Farm; pf.CertificateStatus != "" {
			m.Farm.CertificateStatus, m.Farm.CertificateIdentifier, m.Farm.CertificateExpiry =
				pf.CertificateStatus, pf.CertificateIdentifier, pf.CertificateExpiry
		}
		if m.PlatformIDs.CustomerAPI == "" {
			m.PlatformIDs.CustomerAPI = plat.PlatformIDs.CustomerAPI
		}
	},
	Same: func(a, b Customer) bool {
		ha, errA := HashCustomerAPI(a)
		hb, errB := HashCustomerAPI(b)
		return errA == nil && errB == nil && ha == hb
	},
}

// Certificate returns the certificate fields of c.
func Certificate(c Customer) [3]string {
	return [3]string{c.Farm.CertificateStatus, c.Farm.CertificateIdentifier, c.Farm.CertificateExpiry}
}
