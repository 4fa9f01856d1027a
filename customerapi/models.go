package customerapi

// Shared value types.

// Address is a postal address.
type Address struct {
	Name        string `json:"name,omitempty"`
	Line1       string `json:"line1,omitempty"`
	Line2       string `json:"line2,omitempty"`
	Line3       string `json:"line3,omitempty"`
	City        string `json:"city,omitempty"`
	Region      string `json:"region,omitempty"`
	RegionISO   string `json:"regionISO,omitempty"`
	Postcode    string `json:"postcode,omitempty"`
	CountryName string `json:"countryName,omitempty"`
	CountryISO  string `json:"countryISO,omitempty"`
}

// Coordinates is a latitude/longitude pair.
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Location is where an organisation or business is.
type Location struct {
	What3Words  string       `json:"what3words,omitempty"`
	Address     *Address     `json:"address,omitempty"`
	Coordinates *Coordinates `json:"coordinates,omitempty"`
}

// Sqc is a Scottish Quality Crops membership.
type Sqc struct {
	Number    string `json:"number,omitempty"`
	IsAssured bool   `json:"isAssured"`
}

// AssuranceScheme names a farm assurance scheme.
type AssuranceScheme string

// Assurance schemes.
const (
	SchemeRT  AssuranceScheme = "RT"
	SchemeSQC AssuranceScheme = "SQC"
)

// Valid reports whether s is a known scheme.
func (s AssuranceScheme) Valid() bool { return s == SchemeRT || s == SchemeSQC }

// ImageRef references an uploaded image in requests and compact views.
type ImageRef struct {
	ID  string `json:"id,omitempty"`
	URL string `json:"url,omitempty"`
}

// FileRecord describes an uploaded file in full views.
type FileRecord struct {
	Name         string `json:"name,omitempty"`
	ID           string `json:"id,omitempty"`
	URL          string `json:"url,omitempty"`
	UserName     string `json:"userName,omitempty"`
	CreatedAtUTC string `json:"createdAtUTC,omitempty"`
}

// Message is the generic acknowledgement.
type Message struct {
	Message string `json:"message"`
	Status  string `json:"status"`
}

// CountResult is the answer of a listing called with count=true.
type CountResult struct {
	Count int `json:"count"`
}

// TagGroup is a named group of tags.
type TagGroup struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// Price is an amount of money.
type Price struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency,omitempty"`
}

// Module is a product module an organisation subscribes to.
type Module struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Price *Price `json:"price,omitempty"`
}

// Billing is an organisation's subscription billing.
type Billing struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency,omitempty"`
	Period   string  `json:"period,omitempty"`
}

// SettlementContact receives settlement documents.
type SettlementContact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// AdvancePay holds the bank details for advance payments.
type AdvancePay struct {
	AccountName   string `json:"accountName,omitempty"`
	SortCode      string `json:"sortCode,omitempty"`
	AccountNumber string `json:"accountNumber,omitempty"`
}

// Certificates and businesses.

// CertificateStatus is the status of a Red Tractor certificate.
type CertificateStatus string

// Certificate statuses the platform returns.
const (
	CertificateValid CertificateStatus = "Valid"
	CertificateGrace CertificateStatus = "Grace"
)

// CertificateEnterprise is one certified enterprise (e.g. "Combinable Crops").
type CertificateEnterprise struct {
	EnterpriseIdentifier string `json:"enterpriseIdentifier,omitempty"`
	Enterprise           string `json:"enterprise,omitempty"`
}

// SiteIdentifier identifies a certified site (e.g. a holding number).
type SiteIdentifier struct {
	IdentifierType string `json:"identifierType,omitempty"`
	Identifier     string `json:"identifier,omitempty"`
}

// CertifiedSite is one site covered by a certificate.
type CertifiedSite struct {
	SiteIdentifiers *SiteIdentifier `json:"siteIdentifiers,omitempty"`
	IsPrimary       bool            `json:"isPrimary"`
	SiteCountry     string          `json:"siteCountry,omitempty"`
	SitePostcode    string          `json:"sitePostcode,omitempty"`
	SiteAddress     string          `json:"siteAddress,omitempty"`
	SiteName        string          `json:"siteName,omitempty"`
}

// Certificate is a Red Tractor assurance certificate.
type Certificate struct {
	CertificateStatus      CertificateStatus       `json:"certificateStatus"`
	CertificateIdentifier  string                  `json:"certificateIdentifier"`
	CertificateEnterprises []CertificateEnterprise `json:"certificateEnterprises"`
	// CertificateExpiryDate is an ISO 8601 timestamp such as
	// "2024-01-31T00:00:00.000+00:00".
	CertificateExpiryDate string          `json:"certificateExpiryDate"`
	CertifiedSites        []CertifiedSite `json:"certifiedSites"`
}

// Business is the farm business attached to a business unit.
type Business struct {
	ID              string          `json:"id"`
	BusinessUnitID  string          `json:"businessUnitId"`
	OrganisationID  string          `json:"organisationId"`
	Location        *Location       `json:"location,omitempty"`
	BusinessName    string          `json:"businessName,omitempty"`
	Name            string          `json:"name,omitempty"`
	Phone           *Phone          `json:"phone,omitempty"`
	Email           string          `json:"email,omitempty"`
	Tags            []string        `json:"tags,omitempty"`
	LocationTag     string          `json:"locationTag,omitempty"`
	ManagementTag   string          `json:"managementTag,omitempty"`
	AssuranceScheme AssuranceScheme `json:"assuranceScheme,omitempty"`
	HoldingNumber   string          `json:"holdingNumber,omitempty"`
	Sqc             *Sqc            `json:"sqc,omitempty"`
	// Assurance is the Red Tractor certificate matching HoldingNumber, when one exists.
	Assurance *Certificate `json:"assurance,omitempty"`
}

// BusinessInput is the business part of a business-unit create or update.
type BusinessInput struct {
	Location *Location `json:"location,omitempty"`
	Name     string    `json:"name,omitempty"`
	// PhoneNumber is a single string, preferably E.164 ("+447700900123").
	PhoneNumber     string          `json:"phoneNumber,omitempty"`
	Email           string          `json:"email,omitempty"`
	LocationTag     string          `json:"locationTag,omitempty"`
	ManagementTag   string          `json:"managementTag,omitempty"`
	HoldingNumber   string          `json:"holdingNumber,omitempty"`
	Sqc             *Sqc            `json:"sqc,omitempty"`
	AssuranceScheme AssuranceScheme `json:"assuranceScheme,omitempty"`
}

// BusinessUnitType is the kind of a business unit.
type BusinessUnitType string

// Business unit types.
const (
	BusinessUnitFarm   BusinessUnitType = "farm"
	BusinessUnitStores BusinessUnitType = "stores"
	BusinessUnitRegion BusinessUnitType = "region"
)

// Valid reports whether t is a known type.
func (t BusinessUnitType) Valid() bool {
	return t == BusinessUnitFarm || t == BusinessUnitStores || t == BusinessUnitRegion
}

// BusinessUnit is a farm, store or region of an organisation (full view).
type BusinessUnit struct {
	Ordinal    int              `json:"ordinal"`
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Type       BusinessUnitType `json:"type"`
	Tags       []string         `json:"tags"`
	Business   *Business        `json:"business,omitempty"`
	StoreCount int              `json:"storeCount"`
	FieldCount int              `json:"fieldCount"`
}

// BusinessUnitRef is the compact business-unit view embedded in organisations
// and users; Business is the business id.
type BusinessUnitRef struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Business string   `json:"business,omitempty"`
	Region   string   `json:"region,omitempty"`
	Tags     []string `json:"tags"`
}

// BusinessUnitsSummary lists every business unit of an organisation.
type BusinessUnitsSummary struct {
	OrganisationID   string            `json:"organisationId"`
	OrganisationName string            `json:"organisationName"`
	TagGroups        []TagGroup        `json:"tagGroups"`
	BusinessUnits    []BusinessUnitRef `json:"businessUnits"`
}

// OrganisationBusinessUnits lists the business units the caller may access.
type OrganisationBusinessUnits struct {
	ID                    string         `json:"id"`
	OrganisationID        string         `json:"organisationId"`
	OrganisationName      string         `json:"organisationName"`
	OrganisationRegionISO string         `json:"organisationRegionISO,omitempty"`
	TagGroups             []TagGroup     `json:"tagGroups"`
	BusinessUnits         []BusinessUnit `json:"businessUnits"`
}

// CreateBusinessUnitRequest is the body of CreateBusinessUnit.
type CreateBusinessUnitRequest struct {
	OrganisationID string           `json:"organisationId"`
	Name           string           `json:"name"`
	Type           BusinessUnitType `json:"type"`
	Business       *BusinessInput   `json:"business,omitempty"`
}

// UpdateBusinessUnitRequest is the body of UpdateBusinessUnit; nil fields are left alone.
type UpdateBusinessUnitRequest struct {
	Name     *string        `json:"name,omitempty"`
	Business *BusinessInput `json:"business,omitempty"`
}

// ImportRowResult is the outcome of one CSV row.
type ImportRowResult struct {
	Rows      string   `json:"rows"`
	Status    string   `json:"status"`
	Message   []string `json:"message"`
	Summary   string   `json:"summary,omitempty"`
	ID        string   `json:"id,omitempty"`
	Reference string   `json:"reference,omitempty"`
}

// ImportResult is the outcome of a CSV import.
type ImportResult struct {
	Success    int               `json:"success"`
	Validation int               `json:"validation"`
	Errors     int               `json:"errors"`
	Results    []ImportRowResult `json:"results"`
}

// Organisations.

// ContactInput is a person in organisation create/update bodies; Phone is a string.
type ContactInput struct {
	Phone      string `json:"phone,omitempty"`
	Email      string `json:"email,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
}

// CompanyAssurance is an assurance held by a company.
type CompanyAssurance struct {
	ID   string          `json:"id,omitempty"`
	Type string          `json:"type,omitempty"`
	Body AssuranceScheme `json:"body,omitempty"`
}

// Company is the legal company of an organisation.
type Company struct {
	Assurances      []CompanyAssurance `json:"assurances,omitempty"`
	ID              string             `json:"id,omitempty"`
	Bio             string             `json:"bio,omitempty"`
	Website         string             `json:"website,omitempty"`
	HoldingNumber   string             `json:"holdingNumber,omitempty"`
	Sqc             *Sqc               `json:"sqc,omitempty"`
	AssuranceScheme AssuranceScheme    `json:"assuranceScheme,omitempty"`
	Number          string             `json:"number,omitempty"`
	SalesTaxID      string             `json:"salesTaxId,omitempty"`
	Logo            *ImageRef          `json:"logo,omitempty"`
}

// OwnerContact is the owner of an organisation as returned by the platform.
type OwnerContact struct {
	ID             string `json:"id,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          *Phone `json:"phone,omitempty"`
	FamilyName     string `json:"familyName,omitempty"`
	GivenName      string `json:"givenName,omitempty"`
	AuthPlatformID string `json:"authPlatformId,omitempty"`
	// OrganisationID, CountryISO and PushToken appear in the flattened record only.
	OrganisationID string `json:"organisationId,omitempty"`
	CountryISO     string `json:"countryISO,omitempty"`
	PushToken      string `json:"pushToken,omitempty"`
}

// ConnectionContact is a contact person of a connected organisation.
type ConnectionContact struct {
	GivenName      string `json:"givenName,omitempty"`
	FamilyName     string `json:"familyName,omitempty"`
	Phone          *Phone `json:"phone,omitempty"`
	Email          string `json:"email,omitempty"`
	ID             string `json:"id"`
	AuthPlatformID string `json:"authPlatformId,omitempty"`
}

// ConnectedOrganisation is one business connection.
type ConnectedOrganisation struct {
	OrganisationID   string              `json:"organisationId"`
	OrganisationName string              `json:"organisationName"`
	Relationship     []string            `json:"relationship"`
	Contacts         []ConnectionContact `json:"contacts"`
	Location         *Location           `json:"location,omitempty"`
	CountryISO       string              `json:"countryISO,omitempty"`
	OwnerContact     *OwnerContact       `json:"ownerContact,omitempty"`
}

// Organisation is the full organisation view.
type Organisation struct {
	ID                  string                  `json:"id"`
	Location            *Location               `json:"location,omitempty"`
	Company             *Company                `json:"company,omitempty"`
	CompanyNumber       string                  `json:"companyNumber,omitempty"`
	CountryISO          string                  `json:"countryISO,omitempty"`
	Name                string                  `json:"name"`
	OwnerContact        *OwnerContact           `json:"ownerContact,omitempty"`
	SettlementContacts  []SettlementContact     `json:"settlementContacts,omitempty"`
	Status              string                  `json:"status,omitempty"`
	StatusMessage       string                  `json:"statusMessage,omitempty"`
	BusinessUnits       []BusinessUnitRef       `json:"businessUnits,omitempty"`
	BusinessConnections []ConnectedOrganisation `json:"businessConnections,omitempty"`
	Billing             *Billing                `json:"billing,omitempty"`
	Modules             []Module                `json:"modules,omitempty"`
	Vetted              bool                    `json:"vetted"`
	IsMerchant          bool                    `json:"isMerchant"`
	CreatedAtUTC        string                  `json:"createdAtUTC,omitempty"`
}

// OrganisationRecord is the flattened organisation view returned by
// GetOrganisationsByIDs and GetCurrentOrganisation.
type OrganisationRecord struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name"`
	Location             *Location           `json:"location,omitempty"`
	CountryISO           string              `json:"countryISO,omitempty"`
	Status               string              `json:"status,omitempty"`
	CompanyID            string              `json:"companyId,omitempty"`
	CompanyHoldingNumber string              `json:"companyHoldingNumber,omitempty"`
	Bio                  string              `json:"bio,omitempty"`
	Logo                 *FileRecord         `json:"logo,omitempty"`
	OwnerContact         *OwnerContact       `json:"ownerContact,omitempty"`
	Billing              *Billing            `json:"billing,omitempty"`
	SettlementContacts   []SettlementContact `json:"settlementContacts,omitempty"`
	Modules              []Module            `json:"modules,omitempty"`
	Vetted               bool                `json:"vetted"`
	IsMerchant           bool                `json:"isMerchant"`
	Sqc                  *Sqc                `json:"sqc,omitempty"`
	AssuranceScheme      AssuranceScheme     `json:"assuranceScheme,omitempty"`
	AdvancePay           *AdvancePay         `json:"advancePay,omitempty"`
}

// CreateOrganisationRequest is the body of CreateOrganisation. Location,
// Name, CountryISO, OwnerContact, Billing and Modules are required.
type CreateOrganisationRequest struct {
	Location     *Location      `json:"location"`
	Company      *Company       `json:"company,omitempty"`
	Name         string         `json:"name"`
	CountryISO   string         `json:"countryISO"`
	OwnerContact *ContactInput  `json:"ownerContact"`
	Contacts     []ContactInput `json:"contacts,omitempty"`
	Organisers   []string       `json:"organisers,omitempty"`
	Billing      *Billing       `json:"billing"`
	Modules      []Module       `json:"modules"`
}

// UpdateOrganisationRequest is the body of UpdateOrganisation; nil fields are left alone.
type UpdateOrganisationRequest struct {
	Location           *Location           `json:"location,omitempty"`
	Company            *Company            `json:"company,omitempty"`
	Name               *string             `json:"name,omitempty"`
	CountryISO         *string             `json:"countryISO,omitempty"`
	OwnerContact       *ContactInput       `json:"ownerContact,omitempty"`
	Contacts           []ContactInput      `json:"contacts,omitempty"`
	Organisers         []string            `json:"organisers,omitempty"`
	Billing            *Billing            `json:"billing,omitempty"`
	Modules            []Module            `json:"modules,omitempty"`
	CompanyNumber      *string             `json:"companyNumber,omitempty"`
	SettlementContacts []SettlementContact `json:"settlementContacts,omitempty"`
	Logo               *ImageRef           `json:"logo,omitempty"`
	Status             *string             `json:"status,omitempty"`
	StatusMessage      *string             `json:"statusMessage,omitempty"`
	Vetted             *bool               `json:"vetted,omitempty"`
	IsMerchant         *bool               `json:"isMerchant,omitempty"`
	// Deprecated by the platform, still accepted.
	Bio                  *string `json:"bio,omitempty"`
	CompanyHoldingNumber *string `json:"companyHoldingNumber,omitempty"`
	Website              *string `json:"website,omitempty"`
	CompanySalesTaxID    *string `json:"companySalesTaxId,omitempty"`
}

// AdvancePayRequest is the body of UpdateOrganisationAdvancePay.
type AdvancePayRequest struct {
	AccountName   string `json:"accountName"`
	SortCode      string `json:"sortCode"`
	AccountNumber string `json:"accountNumber"`
	Status        *bool  `json:"status,omitempty"`
}

// Business connections.

// Relationship is the kind of a business connection.
type Relationship string

// Relationship kinds.
const (
	RelationshipTrading   Relationship = "trading"
	RelationshipStorage   Relationship = "storage"
	RelationshipCarrier   Relationship = "carrier"
	RelationshipOrganiser Relationship = "organiser"
)

// Valid reports whether r is a known relationship.
func (r Relationship) Valid() bool {
	switch r {
	case RelationshipTrading, RelationshipStorage, RelationshipCarrier, RelationshipOrganiser:
		return true
	}
	return false
}

// ConnectionContactInput is a contact in a connection request; Phone is a string.
type ConnectionContactInput struct {
	ID         string `json:"id,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

// BusinessConnectionRequest creates (or checks) a business connection. ID
// links an existing organisation; without it a shell organisation is created
// from Name, CountryISO and CompanyNumber.
type BusinessConnectionRequest struct {
	ID            string                   `json:"id,omitempty"`
	CompanyNumber string                   `json:"companyNumber,omitempty"`
	CountryISO    string                   `json:"countryISO,omitempty"`
	Name          string                   `json:"name,omitempty"`
	Relationship  Relationship             `json:"relationship,omitempty"`
	Contacts      []ConnectionContactInput `json:"contacts"`
}

// BusinessConnections is the caller organisation's connection record.
type BusinessConnections struct {
	ID                     string                  `json:"id"`
	ConnectedOrganisations []ConnectedOrganisation `json:"connectedOrganisations"`
}

// BusinessConnectionCheckResult answers CheckBusinessConnection.
type BusinessConnectionCheckResult struct {
	Status             string         `json:"status"`
	BlockNewConnection bool           `json:"blockNewConnection"`
	Organisations      []Organisation `json:"organisations"`
}

// Users and auth.

// UserSettings are a user's consents and UI flags.
type UserSettings struct {
	Terms                        bool `json:"terms"`
	Marketing                    bool `json:"marketing"`
	WhatsApp                     bool `json:"whatsApp"`
	SMS                          bool `json:"sms"`
	HarvestNotificationDismissed bool `json:"harvestNotificationDismissed"`
	HarvestDialogDismissed       bool `json:"harvestDialogDismissed"`
	ListingsWelcomeRead          bool `json:"listingsWelcomeRead"`
}

// Tokens are the bearer tokens of a session. ExpiresIn is in seconds.
type Tokens struct {
	ID        string  `json:"id"`
	Access    string  `json:"access"`
	Refresh   string  `json:"refresh"`
	ExpiresIn float64 `json:"expiresIn"`
}

// String hides the token values.
func (t Tokens) String() string { return "customerapi.Tokens{redacted}" }

// GoString hides the token values.
func (t Tokens) GoString() string { return t.String() }

// UserProfileEntry grants a user access to an organisation.
type UserProfileEntry struct {
	OrganisationID string   `json:"organisationId"`
	BusinessUnits  []string `json:"businessUnits"`
	Roles          []string `json:"roles"`
}

// Preference is a buyer preference.
type Preference struct {
	Commodity float64   `json:"commodity"`
	Grades    []float64 `json:"grades"`
	Regions   []string  `json:"regions"`
	Enabled   *bool     `json:"enabled,omitempty"`
}

// User is the full user view.
type User struct {
	ID                   string             `json:"id"`
	GivenName            string             `json:"givenName"`
	Type                 string             `json:"type,omitempty"`
	FamilyName           string             `json:"familyName"`
	Name                 string             `json:"name,omitempty"`
	CountryISO           string             `json:"countryISO,omitempty"`
	Email                string             `json:"email"`
	PushToken            string             `json:"pushToken,omitempty"`
	External             bool               `json:"external"`
	Impersonating        bool               `json:"impersonating"`
	Settings             *UserSettings      `json:"settings,omitempty"`
	Tokens               *Tokens            `json:"tokens,omitempty"`
	Groups               []string           `json:"groups,omitempty"`
	Roles                []string           `json:"roles"`
	Profiles             []UserProfileEntry `json:"profiles"`
	Preferences          []Preference       `json:"preferences,omitempty"`
	Phone                *Phone             `json:"phone,omitempty"`
	PhoneLandline        *Phone             `json:"phoneLandline,omitempty"`
	Avatar               *FileRecord        `json:"avatar,omitempty"`
	OrganisationID       string             `json:"organisationId"`
	OrganisationName     string             `json:"organisationName,omitempty"`
	AuthPlatformID       string             `json:"authPlatformId,omitempty"`
	Status               string             `json:"status,omitempty"`
	BusinessUnits        []BusinessUnitRef  `json:"businessUnits,omitempty"`
	NotificationsEnabled bool               `json:"notificationsEnabled"`
}

// UserSummaryOrganisation is the organisation embedded in a UserSummary.
type UserSummaryOrganisation struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Bio      string    `json:"bio,omitempty"`
	Logo     *ImageRef `json:"logo,omitempty"`
	Location *Location `json:"location,omitempty"`
	Modules  []Module  `json:"modules,omitempty"`
}

// UserSummary is the compact user view.
type UserSummary struct {
	ID               string                   `json:"id"`
	GivenName        string                   `json:"givenName"`
	FamilyName       string                   `json:"familyName"`
	CountryISO       string                   `json:"countryISO,omitempty"`
	OrganisationName string                   `json:"organisationName,omitempty"`
	OrganisationID   string                   `json:"organisationId"`
	Email            string                   `json:"email"`
	Phone            *Phone                   `json:"phone,omitempty"`
	PushToken        string                   `json:"pushToken,omitempty"`
	Organisation     *UserSummaryOrganisation `json:"organisation,omitempty"`
	Preferences      []Preference             `json:"preferences,omitempty"`
	Settings         *UserSettings            `json:"settings,omitempty"`
	AuthPlatformID   string                   `json:"authPlatformId,omitempty"`
}

// UserSummaryList wraps a list of user summaries.
type UserSummaryList struct {
	Users []UserSummary `json:"users"`
}

// CreateUserRequest is the body of CreateUser. GivenName, FamilyName, Email
// and Phone are required; Phone is a string.
type CreateUserRequest struct {
	GivenName      string   `json:"givenName"`
	FamilyName     string   `json:"familyName"`
	CountryISO     string   `json:"countryISO,omitempty"`
	OrganisationID string   `json:"organisationId,omitempty"`
	Email          string   `json:"email"`
	Phone          *string  `json:"phone"`
	PushToken      string   `json:"pushToken,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	BusinessUnits  []string `json:"businessUnits,omitempty"`
}

// PatchUserRequest is the body of PatchUser; nil fields are left alone.
type PatchUserRequest struct {
	GivenName                    *string   `json:"givenName,omitempty"`
	FamilyName                   *string   `json:"familyName,omitempty"`
	CountryISO                   *string   `json:"countryISO,omitempty"`
	OrganisationID               *string   `json:"organisationId,omitempty"`
	Email                        *string   `json:"email,omitempty"`
	Phone                        *string   `json:"phone,omitempty"`
	PushToken                    *string   `json:"pushToken,omitempty"`
	Roles                        []string  `json:"roles,omitempty"`
	BusinessUnits                []string  `json:"businessUnits,omitempty"`
	PhoneLandline                *string   `json:"phoneLandline,omitempty"`
	Avatar                       *ImageRef `json:"avatar,omitempty"`
	TermsAgreed                  *bool     `json:"termsAgreed,omitempty"`
	MarketingEmails              *bool     `json:"marketingEmails,omitempty"`
	WhatsAppNotifications        *bool     `json:"whatsAppNotifications,omitempty"`
	SMSNotifications             *bool     `json:"smsNotifications,omitempty"`
	HarvestNotificationDismissed *bool     `json:"harvestNotificationDismissed,omitempty"`
	HarvestDialogDismissed       *bool     `json:"harvestDialogDismissed,omitempty"`
	ListingsWelcomeRead          *bool     `json:"listingsWelcomeRead,omitempty"`
}

// Permission is a read/write grant.
type Permission struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
}

// Access is the caller's access map.
type Access struct {
	Administrator bool                  `json:"administrator"`
	Menu          bool                  `json:"menu"`
	System        map[string]Permission `json:"system,omitempty"`
	Inventory     map[string]Permission `json:"inventory,omitempty"`
	Account       map[string]Permission `json:"account,omitempty"`
	Trading       map[string]Permission `json:"trading,omitempty"`
	Logistics     map[string]Permission `json:"logistics,omitempty"`
}

// Profile is the authenticated caller: user, organisation, access and,
// after an ApiToken authentication, tokens.
type Profile struct {
	Organisation *Organisation   `json:"organisation,omitempty"`
	User         *User           `json:"user,omitempty"`
	Access       *Access         `json:"access,omitempty"`
	Features     map[string]bool `json:"features,omitempty"`
	Tokens       *Tokens         `json:"tokens,omitempty"`
}

// AuthChallenge is a login challenge (e.g. NEW_PASSWORD_REQUIRED).
type AuthChallenge struct {
	Session             string              `json:"session,omitempty"`
	ChallengeParameters ChallengeParameters `json:"challengeParameters"`
	ChallengeName       string              `json:"challengeName"`
}

// ChallengeParameters details a challenge.
type ChallengeParameters struct {
	MissingAttributes []string `json:"missingAttributes"`
	AuthPlatformID    string   `json:"authPlatformId,omitempty"`
}

// ChallengeNewPasswordRequired is the challenge for a temporary password.
const ChallengeNewPasswordRequired = "NEW_PASSWORD_REQUIRED"

// LoginResponse carries tokens, or a challenge to answer.
type LoginResponse struct {
	Tokens    *Tokens        `json:"tokens,omitempty"`
	Challenge *AuthChallenge `json:"challenge,omitempty"`
}

// LoginRequest is the body of Login.
type LoginRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	NewPassword string `json:"newPassword,omitempty"`
}

// String hides the passwords.
func (r LoginRequest) String() string {
	return "customerapi.LoginRequest{Username:" + r.Username + ", passwords redacted}"
}

// GenerateAPITokenRequest is the body of GenerateAPIToken.
type GenerateAPITokenRequest struct {
	UserID string   `json:"userId"`
	Hours  float64  `json:"hours"`
	Roles  []string `json:"roles"`
}
