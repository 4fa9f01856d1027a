package one

import (
	"context"
	"sync"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/oneapi"
)

// What ONe shows of a client the connector wrote. ONe answers a create with
// the new ids only and the full and finance writes with nothing, so the
// Seen of a written client is worked out: the client the writes make of the
// one read before them (of a new one, for a create), in ONe's read model,
// hashed as a List or Fetch hashes it. What ONe keeps beside the writes
// (the payer, the first user when no admin is sent, the blockade when the
// finance data is not written) comes from the client read before; what it
// fills in on a new client (its payer, and the account manager when the
// write names none) is learned by reading back the first client the
// connector creates, and the first it creates without an account manager:
// at most two reads a process. A guess that turns out wrong costs one read
// later (the record then looks changed); it never hides a change, since a
// listing shows the same Seen only for a client that is exactly as worked
// out.

// filled is what ONe fills in by itself on a client written without it.
type filled struct {
	// payerSelf: a new client pays for itself (as in the vendor's
	// examples); otherwise payer is the payer a new client gets.
	payerSelf bool
	payer     string
	// manager is the account manager of a client written without one,
	// once managerKnown.
	manager      string
	managerKnown bool
}

// fills learns filled, one read at a time.
type fills struct {
	gate       chan struct{} // held while a client is read back
	mu         sync.Mutex
	f          filled
	payerKnown bool
	warned     bool
}

func newFills() *fills { return &fills{gate: make(chan struct{}, 1)} }

// get returns what ONe fills in, and whether enough is known for a new
// client (needManager: the write names no account manager).
func (x *fills) get(needManager bool) (filled, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.f, x.payerKnown && (x.f.managerKnown || !needManager)
}

// learn takes what ONe filled in on cl, a client written without an
// account manager when noManager.
func (x *fills) learn(cl oneapi.Client, noManager bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.payerKnown = true
	x.f.payerSelf, x.f.payer = cl.PayerID == cl.ID, ""
	if !x.f.payerSelf {
		x.f.payer = cl.PayerID
	}
	if noManager {
		x.f.manager, x.f.managerKnown = "", true
		if cl.AccountManager != nil {
			x.f.manager = cl.AccountManager.ID
		}
	}
}

// warnOnce reports whether this is the first time a worked-out Seen did
// not match the client read back.
func (x *fills) warnOnce() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	first := !x.warned
	x.warned = true
	return first
}

// seenOfNew is the Seen of a client the connector just created with body
// (and fin, when the finance data was written), "" when it cannot be told.
func (p *Platform) seenOfNew(ctx context.Context, ref platform.Ref, body oneapi.ClientWrite, fin *oneapi.FinanceData) string {
	noManager := body.AccountManagerID == ""
	if f, ok := p.fills.get(noManager); ok {
		return seenOfClient(shown(ref, &body, fin, nil, f))
	}
	select {
	case p.fills.gate <- struct{}{}:
	case <-ctx.Done():
		return ""
	}
	defer func() { <-p.fills.gate }()
	if f, ok := p.fills.get(noManager); ok { // learned while this one waited
		return seenOfClient(shown(ref, &body, fin, nil, f))
	}
	rec, err := p.Fetch(ctx, ref)
	if err != nil {
		p.log.Debug("could not read a new client back to learn what ONe fills in", "client_id", ref.ID, "err", err)
		return ""
	}
	cl, _ := rec.Raw.(oneapi.Client)
	p.fills.learn(cl, noManager)
	if f, _ := p.fills.get(noManager); seenOfClient(shown(ref, &body, fin, nil, f)) != rec.Seen && p.fills.warnOnce() {
		p.log.Info("ONe shows a new client otherwise than the connector wrote it; "+
			"a resync reads such clients once to find out they are unchanged", "client_id", ref.ID)
	}
	return rec.Seen
}

// seenAfter is the Seen of a client after the connector wrote body (nil:
// not written) and fin (nil: not written) over cur, the client as read
// before the writes; "" when nothing was read (what ONe keeps beside the
// writes is then unknown).
func (p *Platform) seenAfter(ref platform.Ref, body *oneapi.ClientWrite, fin *oneapi.FinanceData, cur *platform.Record) string {
	if cur == nil {
		return ""
	}
	prev, ok := cur.Raw.(oneapi.Client)
	if !ok {
		return ""
	}
	f, _ := p.fills.get(false)
	return seenOfClient(shown(ref, body, fin, &prev, f))
}

// seenOfClient is the Seen of a client in ONe's read model.
func seenOfClient(cl oneapi.Client) string {
	rec, err := record(cl)
	if err != nil {
		return ""
	}
	return rec.Seen
}

// shown is the client ONe shows after the writes body (the full write; nil
// when not written) and fin (the finance data; nil when not written) over
// prev (nil for a new client, which gets what ONe fills in: f).
func shown(ref platform.Ref, body *oneapi.ClientWrite, fin *oneapi.FinanceData, prev *oneapi.Client, f filled) oneapi.Client {
	var cl oneapi.Client
	switch {
	case prev != nil:
		cl = *prev
	case f.payerSelf:
		cl.PayerID = ref.ID
	default:
		cl.PayerID = f.payer
	}
	cl.ID = ref.ID
	if body != nil {
		echo(&cl, *body, ref.Extra[ExtraAddressID], f)
	}
	if fin != nil {
		cl.AccountBlockade = nil
		if fin.AccountBlockadeID != "" {
			cl.AccountBlockade = &oneapi.AccountBlockade{ID: fin.AccountBlockadeID}
		}
		if cl.CustomerType == oneapi.CustomerCompany {
			cl.TermPaymentID = fin.TermPaymentID
		}
	}
	return cl
}

// echo sets what a full write w sets in ONe's read model of cl: every
// field it carries, in the read model's form.
func echo(cl *oneapi.Client, w oneapi.ClientWrite, addressID string, f filled) {
	if cl.CustomerType == "" { // a client's type never changes
		cl.CustomerType = w.CustomerType
	}
	cl.ExternalID, cl.Name, cl.Tin, cl.Phone = w.ExternalID, w.Name, w.Tin, w.Phone
	cl.WarehouseID, cl.AdditionalWarehousesIDs, cl.TermPaymentID = w.WarehouseID, w.AdditionalWarehousesIDs, w.TermPaymentID
	cl.IsTaxPayer = w.IsTaxPayer != nil && *w.IsTaxPayer
	cl.InvoiceAgreement = w.InvoiceAgreement != nil && *w.InvoiceAgreement
	cl.InvoiceEmail, cl.AdditionalInvoiceEmails = "", nil
	if w.Invoice != nil {
		cl.InvoiceEmail, cl.AdditionalInvoiceEmails = w.Invoice.Email, w.Invoice.AdditionalEmails
	}
	cl.BankAccountNumber, cl.PaymentID = optional(w.BankAccountNumber), optional(w.PaymentID)
	cl.BusinessRegistrationNumber = optional(w.BusinessRegistrationNumber)
	cl.Currency, cl.TinCode = optional(w.Currency), optional(w.TinCode)
	cl.ClientStatus, cl.ClientTaxType = optional(w.ClientStatus), optional(w.ClientTaxType)
	cl.AccountType, cl.AdditionalFields = w.AccountType, w.AdditionalFields
	if a := w.Address; a != nil {
		if addressID == "" {
			addressID = cl.BillingAddress.ID
		}
		cl.BillingAddress = oneapi.BillingAddress{ID: addressID, Name: a.Name, Street: a.Street, ZipCode: a.ZipCode,
			City: a.City, Country: a.Country, Phone: a.Phone, Type: oneapi.AddressTypeBilling}
	}
	main, additional := w.SegmentID, []string(nil)
	if s := w.Segments; s != nil {
		if s.MainSegmentID != "" {
			main = s.MainSegmentID
		}
		additional = s.AdditionalSegmentsIDs
	}
	cl.Segment, cl.SegmentID = main, main
	cl.Segments = &oneapi.Segments{MainSegmentID: main, AdditionalSegmentsIDs: additional}
	switch {
	case w.AccountManagerID != "":
		cl.AccountManager = &oneapi.AccountManager{ID: w.AccountManagerID}
	case f.managerKnown && f.manager == "":
		cl.AccountManager = nil
	case f.managerKnown:
		cl.AccountManager = &oneapi.AccountManager{ID: f.manager}
	}
	if a := w.Admin; a != nil {
		cl.FirstUser = &oneapi.User{Email: a.Email, Name: a.Name, Phone: a.Phone}
	}
	if cl.CustomerType == oneapi.CustomerIndividual {
		// tin, isTaxPayer and termPaymentId apply to organisations only.
		cl.Tin, cl.IsTaxPayer, cl.TermPaymentID = "", false, ""
	}
}

// optional is the read model's nullable form of a written value.
func optional[T ~string](v T) *T {
	if v == "" {
		return nil
	}
	return &v
}
