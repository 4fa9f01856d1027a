package oneapitest

import (
	"fmt"
	"strings"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/oneapi"
)

// The operations below run with s.mu held.

func (s *Server) createLocked(t *tenant, d oneapi.ClientWrite, origin oneapi.Context, requireExternalID bool) (oneapi.CreateClientResponse, *OpError) {
	if err := t.validateWrite(&d, nil, requireExternalID); err != nil {
		return oneapi.CreateClientResponse{}, err
	}
	organisationOnly(&d, d.CustomerType)
	c := &client{ID: d.CustomerType.IDPrefix() + s.newUUID(), Data: d, AddressID: s.newUUID()}
	resp := oneapi.CreateClientResponse{
		ClientID: c.ID, ExternalClientID: d.ExternalID, AddressID: c.AddressID, ExternalAddressID: d.Address.ExternalID,
	}
	if d.Admin != nil {
		u := s.newUser(c, d.Admin)
		t.Users[u.ID] = u
		t.UserOrder = append(t.UserOrder, u.ID)
		c.FirstUserID = u.ID
		resp.UserID = u.ID
	}
	c.Data.Admin = nil
	t.Clients[c.ID] = c
	t.Order = append(t.Order, c.ID)
	if d.ExternalID != "" {
		t.External[d.ExternalID] = c.ID
	}
	t.appendEvent(c.ID, oneapi.EventCreate, origin)
	s.dirty = true
	return resp, nil
}

func (s *Server) newUser(c *client, a *oneapi.Admin) *oneapi.User {
	return &oneapi.User{
		ID:             s.newUUID(),
		OrganizationID: c.ID[strings.IndexByte(c.ID, ':')+1:],
		ClientID:       c.ID,
		Email:          a.Email,
		Name:           a.Name,
		Phone:          a.Phone,
		Role:           oneapi.Role{ID: AdministratorRoleID, Name: "Administrator"},
		IsActive:       true,
		Agreements:     []any{},
	}
}

func (s *Server) lookupLocked(t *tenant, rawID string) (*client, *OpError) {
	id := normalizeID(rawID)
	if !ValidClientID(id) {
		return nil, invalid([]apierr.FieldError{{Field: "clientId", Message: "must look like org:<uuid> or ind:<uuid>"}})
	}
	c := t.Clients[id]
	if c == nil {
		return nil, notFound("client")
	}
	return c, nil
}

func (s *Server) updateLocked(t *tenant, c *client, d oneapi.ClientWrite, origin oneapi.Context, requireExternalID bool) *OpError {
	if !requireExternalID && d.ExternalID == "" {
		d.ExternalID = c.Data.ExternalID
	}
	if err := t.validateWrite(&d, c, requireExternalID); err != nil {
		return err
	}
	d.CustomerType = c.Data.CustomerType
	organisationOnly(&d, d.CustomerType)
	if d.Admin != nil {
		if u := t.Users[c.FirstUserID]; u != nil {
			u.Email, u.Name, u.Phone = d.Admin.Email, d.Admin.Name, d.Admin.Phone
		} else {
			u := s.newUser(c, d.Admin)
			t.Users[u.ID] = u
			t.UserOrder = append(t.UserOrder, u.ID)
			c.FirstUserID = u.ID
		}
		d.Admin = nil
	}
	if c.Data.ExternalID != d.ExternalID {
		if t.External[c.Data.ExternalID] == c.ID {
			delete(t.External, c.Data.ExternalID)
		}
		if d.ExternalID != "" {
			t.External[d.ExternalID] = c.ID
		}
	}
	c.Data = d
	t.appendEvent(c.ID, oneapi.EventUpdate, origin)
	s.dirty = true
	return nil
}

func (s *Server) deleteLocked(t *tenant, c *client, origin oneapi.Context) {
	delete(t.Clients, c.ID)
	for i, id := range t.Order {
		if id == c.ID {
			t.Order = append(t.Order[:i], t.Order[i+1:]...)
			break
		}
	}
	if t.External[c.Data.ExternalID] == c.ID {
		delete(t.External, c.Data.ExternalID)
	}
	if c.FirstUserID != "" {
		delete(t.Users, c.FirstUserID)
		for i, id := range t.UserOrder {
			if id == c.FirstUserID {
				t.UserOrder = append(t.UserOrder[:i], t.UserOrder[i+1:]...)
				break
			}
		}
	}
	t.appendEvent(c.ID, oneapi.EventDelete, origin)
	s.dirty = true
}

// Partial update bodies, decoded with presence: a field left out keeps its value.

type advancedIn struct {
	AccountManagerID        *string               `json:"accountManagerId"`
	Segments                *oneapi.SegmentsWrite `json:"segments"`
	WarehouseID             *string               `json:"warehouseId"`
	AdditionalWarehousesIDs *[]string             `json:"additionalWarehousesIds"`
}

type basicIn struct {
	AccountType                *[]oneapi.AccountType  `json:"accountType"`
	BillingAddress             *oneapi.BillingAddress `json:"billingAddress"`
	BusinessRegistrationNumber *string                `json:"businessRegistrationNumber"`
	ClientStatus               *oneapi.ClientStatus   `json:"clientStatus"`
	ClientTaxType              *oneapi.ClientTaxType  `json:"clientTaxType"`
	Currency                   *oneapi.Currency       `json:"currency"`
	InternalNickname           *string                `json:"internalNickname"`
	IsTaxPayer                 *bool                  `json:"isTaxPayer"`
	PayerID                    *string                `json:"payerId"`
	Phone                      *string                `json:"phone"`
	Tin                        *string                `json:"tin"`
	TinCode                    *oneapi.TinCode        `json:"tinCode"`
}

type financeIn struct {
	AccountBlockadeID *string `json:"accountBlockadeId"`
	TermPaymentID     *string `json:"termPaymentId"`
	TradeCredit       *struct {
		AssignedValue *float64 `json:"assignedValue"`
	} `json:"tradeCredit"`
}

type additionalIn struct {
	AdditionalFields *map[string]oneapi.AdditionalField `json:"additionalFields"`
}

func (s *Server) advancedLocked(t *tenant, c *client, in advancedIn) *OpError {
	var p problems
	if in.AccountManagerID != nil && *in.AccountManagerID != "" {
		if _, ok := t.Managers[*in.AccountManagerID]; !ok {
			p.add("accountManagerId", "unknown account manager %q", *in.AccountManagerID)
		}
	}
	if in.WarehouseID != nil {
		p.text("warehouseId", *in.WarehouseID, false)
	}
	if in.AdditionalWarehousesIDs != nil {
		for i, wh := range *in.AdditionalWarehousesIDs {
			p.text(fmt.Sprintf("additionalWarehousesIds[%d]", i), wh, true)
		}
	}
	if in.Segments != nil {
		p.text("segments.mainSegmentId", in.Segments.MainSegmentID, false)
		for i, sg := range in.Segments.AdditionalSegmentsIDs {
			p.text(fmt.Sprintf("segments.additionalSegmentsIds[%d]", i), sg, true)
		}
	}
	if err := invalid(p); err != nil {
		return err
	}
	d := &c.Data
	if in.AccountManagerID != nil {
		d.AccountManagerID = *in.AccountManagerID
	}
	if in.Segments != nil {
		seg := *in.Segments
		d.Segments = &seg
		d.Segment, d.SegmentID = "", ""
	}
	if in.WarehouseID != nil {
		d.WarehouseID = *in.WarehouseID
	}
	if in.AdditionalWarehousesIDs != nil {
		d.AdditionalWarehousesIDs = *in.AdditionalWarehousesIDs
	}
	t.appendEvent(c.ID, oneapi.EventUpdate, oneapi.ContextIntegrations)
	s.dirty = true
	return nil
}

func (s *Server) basicLocked(t *tenant, c *client, in basicIn) *OpError {
	var p problems
	d := c.Data // a copy: applied only when valid
	if in.AccountType != nil {
		d.AccountType = *in.AccountType
	}
	if in.BillingAddress != nil {
		ba := in.BillingAddress
		switch {
		case ba.ID == "":
			p.add("billingAddress.id", "must not be blank")
		case ba.ID != c.AddressID:
			p.add("billingAddress.id", "is not this client's billing address")
		}
		if ba.Type != oneapi.AddressTypeBilling {
			p.add("billingAddress.type", "must be BILLING")
		}
		ext := ""
		if d.Address != nil {
			ext = d.Address.ExternalID
		}
		d.Address = &oneapi.Address{City: ba.City, Country: ba.Country, ExternalID: ext, Name: ba.Name,
			Phone: ba.Phone, Street: ba.Street, ZipCode: ba.ZipCode}
		p.text("billingAddress.city", ba.City, true)
		p.text("billingAddress.country", ba.Country, true)
		p.text("billingAddress.name", ba.Name, true)
		p.text("billingAddress.phone", ba.Phone, true)
		p.text("billingAddress.street", ba.Street, true)
		p.text("billingAddress.zipCode", ba.ZipCode, true)
	}
	setStr(&d.BusinessRegistrationNumber, in.BusinessRegistrationNumber)
	if in.ClientStatus != nil {
		d.ClientStatus = *in.ClientStatus
	}
	if in.ClientTaxType != nil {
		d.ClientTaxType = *in.ClientTaxType
	}
	if in.Currency != nil {
		d.Currency = *in.Currency
	}
	setStr(&d.InternalNickname, in.InternalNickname)
	if in.IsTaxPayer != nil {
		v := *in.IsTaxPayer
		d.IsTaxPayer = &v
	}
	setStr(&d.Phone, in.Phone)
	setStr(&d.Tin, in.Tin)
	if in.TinCode != nil {
		d.TinCode = *in.TinCode
	}
	if d.CustomerType == oneapi.CustomerCompany {
		p.text("tin", d.Tin, true)
	}
	for field, v := range map[string]string{"businessRegistrationNumber": d.BusinessRegistrationNumber,
		"internalNickname": d.InternalNickname, "phone": d.Phone} {
		p.text(field, v, false)
	}
	p.enums(&d)
	payer := c.PayerID
	if in.PayerID != nil {
		payer = normalizeID(*in.PayerID)
		switch {
		case payer == "":
		case !ValidClientID(payer):
			p.add("payerId", "must look like org:<uuid> or ind:<uuid>")
		case payer != c.ID && t.Clients[payer] == nil:
			p.add("payerId", "unknown client %q", payer)
		}
	}
	if err := invalid(p); err != nil {
		return err
	}
	organisationOnly(&d, d.CustomerType)
	c.Data = d
	c.PayerID = payer
	t.appendEvent(c.ID, oneapi.EventUpdate, oneapi.ContextIntegrations)
	s.dirty = true
	return nil
}

func setStr(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) financeLocked(t *tenant, c *client, in financeIn) *OpError {
	var p problems
	if in.AccountBlockadeID != nil && *in.AccountBlockadeID != "" {
		if _, ok := t.Blockades[*in.AccountBlockadeID]; !ok {
			p.add("accountBlockadeId", "unknown account blockade %q", *in.AccountBlockadeID)
		}
	}
	if in.TermPaymentID != nil {
		p.text("termPaymentId", *in.TermPaymentID, false)
	}
	if in.TradeCredit != nil {
		switch {
		case c.Data.CustomerType != oneapi.CustomerCompany:
			p.add("tradeCredit", "applies to organisation (org:) clients only")
		case in.TradeCredit.AssignedValue == nil:
			p.add("tradeCredit.assignedValue", "is required")
		case *in.TradeCredit.AssignedValue < 0:
			p.add("tradeCredit.assignedValue", "must not be negative")
		}
	}
	if err := invalid(p); err != nil {
		return err
	}
	if in.AccountBlockadeID != nil {
		c.BlockadeID = *in.AccountBlockadeID
	}
	if in.TermPaymentID != nil && c.Data.CustomerType == oneapi.CustomerCompany {
		c.Data.TermPaymentID = *in.TermPaymentID
	}
	if in.TradeCredit != nil {
		v := *in.TradeCredit.AssignedValue
		c.TradeCredit = &v
	}
	t.appendEvent(c.ID, oneapi.EventUpdate, oneapi.ContextIntegrations)
	s.dirty = true
	return nil
}

func (s *Server) additionalLocked(t *tenant, c *client, in additionalIn) *OpError {
	if in.AdditionalFields == nil {
		return invalid([]apierr.FieldError{{Field: "additionalFields", Message: "is required"}})
	}
	var p problems
	p.additionalFields("additionalFields", *in.AdditionalFields)
	if err := invalid(p); err != nil {
		return err
	}
	c.Data.AdditionalFields = *in.AdditionalFields
	t.appendEvent(c.ID, oneapi.EventUpdate, oneapi.ContextIntegrations)
	s.dirty = true
	return nil
}

// feedLocked reads events from start (inclusive), filtered by contexts.
func (t *tenant) feedLocked(start int64, contexts map[oneapi.Context]bool, limit int) oneapi.SyncFeed {
	if start < 1 {
		start = 1
	}
	out := oneapi.SyncFeed{Events: []oneapi.SyncEvent{}}
	i := start - 1
	for i < int64(len(t.Events)) && len(out.Events) < limit {
		e := t.Events[i]
		i++
		if contexts[e.Context] {
			out.Events = append(out.Events, oneapi.SyncEvent{ClientID: e.ClientID, Type: e.Type})
		}
	}
	out.NextID = max(start, i+1)
	return out
}

// TradeCredit returns the trade-credit limit set through finance-data (it is
// not part of the read model).
func (s *Server) TradeCredit(tenantName, id string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[tenantName]; t != nil {
		if c := t.Clients[id]; c != nil && c.TradeCredit != nil {
			return *c.TradeCredit, true
		}
	}
	return 0, false
}

// InternalNickname returns the internal nickname of a client (write-only on the API).
func (s *Server) InternalNickname(tenantName, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[tenantName]; t != nil {
		if c := t.Clients[id]; c != nil {
			return c.Data.InternalNickname
		}
	}
	return ""
}
