package oneapi

// The write model: the body of createClient and updateClient.

// ClientWrite is the body of create (POST) and full update (PUT). Required on
// create: CustomerType, ExternalID and Address with all seven fields; Tin for
// COMPANY clients.
type ClientWrite struct {
	AccountManagerID           string                     `json:"accountManagerId,omitempty"`
	AccountType                []AccountType              `json:"accountType,omitempty"`
	AdditionalFields           map[string]AdditionalField `json:"additionalFields,omitempty"`
	Address                    *Address                   `json:"address,omitempty"`
	Admin                      *Admin                     `json:"admin,omitempty"`
	BankAccountNumber          string                     `json:"bankAccountNumber,omitempty"`
	BusinessRegistrationNumber string                     `json:"businessRegistrationNumber,omitempty"`
	ClientStatus               ClientStatus               `json:"clientStatus,omitempty"`
	ClientTaxType              ClientTaxType              `json:"clientTaxType,omitempty"`
	Currency                   Currency                   `json:"currency,omitempty"`
	CustomerType               CustomerType               `json:"customerType,omitempty"`
	ExternalID                 string                     `json:"externalId"`
	InternalNickname           string                     `json:"internalNickname,omitempty"`
	Invoice                    *Invoice                   `json:"invoice,omitempty"`
	InvoiceAgreement           *bool                      `json:"invoiceAgreement,omitempty"`
	IsTaxPayer                 *bool                      `json:"isTaxPayer,omitempty"`
	Name                       string                     `json:"name,omitempty"`
	PaymentID                  string                     `json:"paymentId,omitempty"`
	Phone                      string                     `json:"phone,omitempty"`
	TermPaymentID              string                     `json:"termPaymentId,omitempty"`
	Tin                        string                     `json:"tin,omitempty"`
	TinCode                    TinCode                    `json:"tinCode,omitempty"`
	WarehouseID                string                     `json:"warehouseId,omitempty"`
	AdditionalWarehousesIDs    []string                   `json:"additionalWarehousesIds,omitempty"`
	// Segment and SegmentID are deprecated by the platform; use Segments.
	Segment   string         `json:"segment,omitempty"`
	SegmentID string         `json:"segmentId,omitempty"`
	Segments  *SegmentsWrite `json:"segments,omitempty"`
}

// Address is the billing address in the write model; all seven fields are required.
type Address struct {
	City       string `json:"city"`
	Country    string `json:"country"`
	ExternalID string `json:"externalId"`
	Name       string `json:"name"`
	Phone      string `json:"phone"`
	Street     string `json:"street"`
	ZipCode    string `json:"zipCode"`
}

// Admin is the first (administrator) user to create along with a client.
type Admin struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Invoice holds the e-invoice addresses in the write model.
type Invoice struct {
	Email            string   `json:"email,omitempty"`
	AdditionalEmails []string `json:"additionalEmails,omitempty"`
}

// SegmentsWrite assigns segments in write bodies.
type SegmentsWrite struct {
	MainSegmentID         string   `json:"mainSegmentId,omitempty"`
	AdditionalSegmentsIDs []string `json:"additionalSegmentsIds,omitempty"`
}

// AdditionalField is one back-office configured field. Value is a string,
// a float64 or a bool.
type AdditionalField struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	Value any    `json:"value"`
}

// CreateClientResponse is the answer to createClient.
type CreateClientResponse struct {
	ClientID          string `json:"clientId"`
	ExternalClientID  string `json:"externalClientId"`
	AddressID         string `json:"addressId"`
	ExternalAddressID string `json:"externalAddressId"`
	UserID            string `json:"userId,omitempty"`
}

// The read model: what getClient and listClients return.

// Client is the read model of a client. Nullable fields are pointers.
type Client struct {
	ID                         string                     `json:"id"`
	ExternalID                 string                     `json:"externalId"`
	CustomerType               CustomerType               `json:"customerType"`
	Name                       string                     `json:"name"`
	Tin                        string                     `json:"tin"`
	BillingAddress             BillingAddress             `json:"billingAddress"`
	AccountManager             *AccountManager            `json:"accountManager"`
	WarehouseID                string                     `json:"warehouseId"`
	AdditionalWarehousesIDs    []string                   `json:"additionalWarehousesIds"`
	Segment                    string                     `json:"segment"`
	SegmentID                  string                     `json:"segmentId"`
	Segments                   *Segments                  `json:"segments"`
	PaymentID                  *string                    `json:"paymentId"`
	TermPaymentID              string                     `json:"termPaymentId"`
	IsTaxPayer                 bool                       `json:"isTaxPayer"`
	InvoiceEmail               string                     `json:"invoiceEmail"`
	AdditionalInvoiceEmails    []string                   `json:"additionalInvoiceEmails"`
	InvoiceAgreement           bool                       `json:"invoiceAgreement"`
	Phone                      string                     `json:"phone"`
	BankAccountNumber          *string                    `json:"bankAccountNumber"`
	AccountBlockade            *AccountBlockade           `json:"accountBlockade"`
	FirstUser                  *User                      `json:"firstUser"`
	AdditionalFields           map[string]AdditionalField `json:"additionalFields"`
	Currency                   *Currency                  `json:"currency"`
	BusinessRegistrationNumber *string                    `json:"businessRegistrationNumber"`
	PayerID                    string                     `json:"payerId"`
	TinCode                    *TinCode                   `json:"tinCode"`
	AccountType                []AccountType              `json:"accountType"`
	ClientStatus               *ClientStatus              `json:"clientStatus"`
	ClientTaxType              *ClientTaxType             `json:"clientTaxType"`
}

// BillingAddress is the billing address in the read model (and in basic-data).
type BillingAddress struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Street  string `json:"street"`
	ZipCode string `json:"zipCode"`
	City    string `json:"city"`
	Country string `json:"country"`
	Phone   string `json:"phone"`
	Type    string `json:"type"`
}

// AddressTypeBilling is the only type a billing address has.
const AddressTypeBilling = "BILLING"

// AccountManager is the client's account manager in the read model.
type AccountManager struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Email           string  `json:"email"`
	AdditionalEmail string  `json:"additionalEmail"`
	MobilePhone     string  `json:"mobilePhone"`
	LandlinePhone   string  `json:"landlinePhone"`
	Photo           *string `json:"photo"`
	IsOperator      bool    `json:"isOperator"`
}

// Segments is the segment assignment in the read model.
type Segments struct {
	MainSegmentID         string   `json:"mainSegmentId"`
	AdditionalSegmentsIDs []string `json:"additionalSegmentsIds"`
	ExternalSegmentID     *string  `json:"externalSegmentId"`
}

// AccountBlockade is a blockade on a client's account.
type AccountBlockade struct {
	ID         string       `json:"id"`
	ExternalID *string      `json:"externalId"`
	Type       BlockadeType `json:"type"`
	Label      string       `json:"label"`
	Message    string       `json:"message"`
}

// User is a user who logs in on behalf of a client.
type User struct {
	ID string `json:"id"`
	// OrganizationID is deprecated by the platform in favour of ClientID.
	OrganizationID string `json:"organizationId"`
	ClientID       string `json:"clientId"`
	Email          string `json:"email"`
	Name           string `json:"name"`
	Phone          string `json:"phone"`
	Role           Role   `json:"role"`
	IsActive       bool   `json:"isActive"`
	Agreements     []any  `json:"agreements"`
}

// Role is a user's role; null organisation and client mean a tenant-wide role.
type Role struct {
	ID             string  `json:"id"`
	OrganizationID *string `json:"organizationId"`
	ClientID       *string `json:"clientId"`
	Name           string  `json:"name"`
}

// FirstUser summarises the user created together with a client.
type FirstUser struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Phone  string `json:"phone"`
}

// Page is one page of the dual list envelope. Items is the current field;
// ListElement the legacy one (the client falls back to it).
type Page[T any] struct {
	ListElement  []T    `json:"listElement"`
	TotalElement int64  `json:"totalElement"`
	Items        []T    `json:"items"`
	TotalItems   int64  `json:"totalItems"`
	PageNumber   int32  `json:"pageNumber"`
	TotalPages   int32  `json:"totalPages"`
	PageSize     int32  `json:"pageSize"`
	NextPage     *int32 `json:"nextPage"`
}

// The partial update bodies.

// AdditionalDataWrite is the body of updateClientAdditionalData.
type AdditionalDataWrite struct {
	AdditionalFields map[string]AdditionalField `json:"additionalFields"`
}

// AdditionalData is the answer of getClientAdditionalData.
type AdditionalData struct {
	ID               string                     `json:"id"`
	AdditionalFields map[string]AdditionalField `json:"additionalFields"`
}

// AdvancedData is the body of updateClientAdvancedData.
type AdvancedData struct {
	AccountManagerID        string         `json:"accountManagerId,omitempty"`
	Segments                *SegmentsWrite `json:"segments,omitempty"`
	WarehouseID             string         `json:"warehouseId,omitempty"`
	AdditionalWarehousesIDs []string       `json:"additionalWarehousesIds,omitempty"`
}

// BasicData is the body of updateClientBasicData. The billing address is sent
// in its read form (with the platform's address id and type BILLING).
type BasicData struct {
	AccountType                []AccountType   `json:"accountType,omitempty"`
	BillingAddress             *BillingAddress `json:"billingAddress,omitempty"`
	BusinessRegistrationNumber string          `json:"businessRegistrationNumber,omitempty"`
	ClientStatus               ClientStatus    `json:"clientStatus,omitempty"`
	ClientTaxType              ClientTaxType   `json:"clientTaxType,omitempty"`
	Currency                   Currency        `json:"currency,omitempty"`
	InternalNickname           string          `json:"internalNickname,omitempty"`
	IsTaxPayer                 *bool           `json:"isTaxPayer,omitempty"`
	PayerID                    string          `json:"payerId,omitempty"`
	Phone                      string          `json:"phone,omitempty"`
	Tin                        string          `json:"tin,omitempty"`
	TinCode                    TinCode         `json:"tinCode,omitempty"`
}

// FinanceData is the body of updateClientFinanceData.
type FinanceData struct {
	AccountBlockadeID string       `json:"accountBlockadeId,omitempty"`
	TermPaymentID     string       `json:"termPaymentId,omitempty"`
	TradeCredit       *TradeCredit `json:"tradeCredit,omitempty"`
}

// TradeCredit is the trade-credit limit granted to an organisation client.
type TradeCredit struct {
	AssignedValue float64 `json:"assignedValue"`
}

// The synchronization feed.

// SyncFeed is one batch of the client change feed.
type SyncFeed struct {
	NextID int64       `json:"nextId"`
	Events []SyncEvent `json:"events"`
}

// SyncEvent is a change notice: a client id and the kind of change.
type SyncEvent struct {
	ClientID string        `json:"clientId"`
	Type     SyncEventType `json:"type"`
}
