package connector

import (
	"slices"

	"github.com/erpconnector/erpconnector/mapping"
)

// copyGroup copies the fields of one ownership group that ONe carries from
// src into dst.
func copyGroupONe(dst *mapping.Customer, src mapping.Customer, group string) {
	switch group {
	case GroupMaster:
		dst.Name, dst.TIN, dst.TINCode = src.Name, src.TIN, src.TINCode
		dst.BusinessRegistrationNumber = src.BusinessRegistrationNumber
		// ONe keeps the street as one line; keep the ERP's split lines when
		// they join to the same text.
		if mapping.ToONeWrite(*dst).Address.Street != src.Billing.Street {
			dst.Billing.Street, dst.Billing.Line2, dst.Billing.Line3 = src.Billing.Street, "", ""
		}
		dst.Billing.Name, dst.Billing.Postcode = src.Billing.Name, src.Billing.Postcode
		dst.Billing.City, dst.Billing.CountryName, dst.Billing.Phone = src.Billing.City, src.Billing.CountryName, src.Billing.Phone
		dst.Phone, dst.InvoiceEmail = src.Phone, src.InvoiceEmail
		dst.AdditionalInvoiceEmails = slices.Clone(src.AdditionalInvoiceEmails)
		dst.InvoiceAgreement, dst.Currency, dst.TaxPayer = src.InvoiceAgreement, src.Currency, src.TaxPayer
		dst.TaxType, dst.ClientStatus = src.TaxType, src.ClientStatus
		dst.AccountTypes = slices.Clone(src.AccountTypes)
	case GroupCommercial:
		dst.AccountManagerID, dst.WarehouseID = src.AccountManagerID, src.WarehouseID
		dst.AdditionalWarehouseIDs = slices.Clone(src.AdditionalWarehouseIDs)
		dst.SegmentID = src.SegmentID
		dst.AdditionalSegmentIDs = slices.Clone(src.AdditionalSegmentIDs)
		dst.PaymentID, dst.TermPaymentID, dst.PayerID = src.PaymentID, src.TermPaymentID, src.PayerID
		dst.BankAccount, dst.BlockadeID = src.BankAccount, src.BlockadeID
	case GroupAdditional:
		dst.AdditionalFields = slices.Clone(src.AdditionalFields)
	case GroupContact:
		dst.Admin = src.Admin
	}
}

// onePlatformView is what ONe holds for a bound customer: the ERP record
// with every field ONe carries taken from the platform. Values the platform
// fills in by itself when the ERP sends none (a default account manager, the
// client as its own payer) count as the ERP's empty value, so they never
// look like drift.
func onePlatformView(erpRec, platform mapping.Customer) mapping.Customer {
	v := erpRec.Clone()
	for _, g := range FieldGroups {
		copyGroupONe(&v, platform, g)
	}
	if erpRec.AccountManagerID == "" {
		v.AccountManagerID = ""
	}
	if erpRec.PayerID == "" || platform.PayerID == platform.PlatformIDs.ONe {
		v.PayerID = erpRec.PayerID
	}
	if erpRec.Admin.IsZero() {
		v.Admin = erpRec.Admin
	}
	v.Normalize()
	return v
}

// mergeONe applies a platform change to the ERP record by ownership: groups
// the platform owns come from the platform, the rest stay as the ERP has them.
func (c Config) mergeONe(erpRec, platform mapping.Customer) mapping.Customer {
	m := erpRec.Clone()
	for _, g := range FieldGroups {
		if c.owner(g) == OwnerPlatform {
			copyGroupONe(&m, platform, g)
		}
	}
	if erpRec.PayerID == "" && platform.PayerID == platform.PlatformIDs.ONe {
		m.PayerID = "" // the platform's default: the client pays for itself
	}
	if m.PlatformIDs.ONe == "" {
		m.PlatformIDs.ONe = platform.PlatformIDs.ONe
	}
	m.Normalize()
	return m
}
