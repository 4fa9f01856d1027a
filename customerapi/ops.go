package customerapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Auth.

// Login posts credentials. The answer carries tokens, or a challenge to
// answer by logging in again with NewPassword. Most callers let the
// TokenSource log in instead.
func (c *Client) Login(ctx context.Context, req LoginRequest) (*LoginResponse, error) {
	return callFor[LoginResponse](ctx, c, request{op: "login", method: http.MethodPost, path: "/v1/auth/login", body: req})
}

// RefreshTokens exchanges a refresh token for new tokens.
func (c *Client) RefreshTokens(ctx context.Context, refresh string) (*Tokens, error) {
	var out LoginResponse
	err := c.call(ctx, request{op: "refreshTokens", method: http.MethodPost, path: "/v1/auth/refresh",
		body: map[string]string{"refresh": refresh}}, &out)
	if err != nil {
		return nil, err
	}
	if out.Tokens == nil || out.Tokens.Access == "" {
		return nil, fmt.Errorf("customerapi: refreshTokens: answer has no tokens")
	}
	return out.Tokens, nil
}

// AuthenticateAPIToken exchanges an ApiToken for a profile with tokens.
func (c *Client) AuthenticateAPIToken(ctx context.Context, token string) (*Profile, error) {
	var out Profile
	err := c.call(ctx, request{op: "authenticateApiToken", method: http.MethodPost, path: "/v1/auth/api-tokens/authenticate",
		body: map[string]string{"token": token}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GenerateAPIToken mints an ApiToken for a user, valid for the given hours
// with the given roles. The platform returns it in Message.Message.
func (c *Client) GenerateAPIToken(ctx context.Context, req GenerateAPITokenRequest) (string, error) {
	var out Message
	if err := c.call(ctx, request{op: "generateApiToken", method: http.MethodPost, path: "/v1/auth/api-tokens", body: req, auth: true}, &out); err != nil {
		return "", err
	}
	return out.Message, nil
}

// Profile returns the authenticated caller's profile (user, organisation, access).
func (c *Client) Profile(ctx context.Context) (*Profile, error) {
	return callFor[Profile](ctx, c, request{op: "getProfile", method: http.MethodGet, path: "/v1/profile", auth: true})
}

// Organisations.

// OrganisationQuery filters and pages ListOrganisations.
type OrganisationQuery struct {
	Limit    int
	Offset   int
	SortBy   string
	SortDesc bool
	Query    string
	Status   string
	Tags     string
	Modules  string
}

func (q OrganisationQuery) values() url.Values {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.SortBy != "" {
		v.Set("sortBy", q.SortBy)
	}
	if q.SortDesc {
		v.Set("sortDesc", "true")
	}
	setIf(v, "query", q.Query)
	setIf(v, "status", q.Status)
	setIf(v, "tags", q.Tags)
	setIf(v, "modules", q.Modules)
	return v
}

func setIf(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// ListOrganisations returns one page of organisations.
func (c *Client) ListOrganisations(ctx context.Context, q OrganisationQuery) ([]Organisation, error) {
	var out []Organisation
	err := c.call(ctx, request{op: "listOrganisations", method: http.MethodGet, path: "/v1/organisations", query: q.values(), auth: true}, &out)
	return out, err
}

// CountOrganisations returns how many organisations match q (paging ignored).
func (c *Client) CountOrganisations(ctx context.Context, q OrganisationQuery) (int, error) {
	q.Limit, q.Offset = 0, 0
	return c.count(ctx, "listOrganisations", "/v1/organisations", q.values())
}

// count asks a listing operation for its count instead of a page.
func (c *Client) count(ctx context.Context, op, path string, v url.Values) (int, error) {
	v.Set("count", "true")
	var out CountResult
	err := c.call(ctx, request{op: op, method: http.MethodGet, path: path, query: v, auth: true}, &out)
	return out.Count, err
}

// GetOrganisationsByIDs returns the flattened records of the given organisations.
func (c *Client) GetOrganisationsByIDs(ctx context.Context, ids []string) ([]OrganisationRecord, error) {
	var out []OrganisationRecord
	err := c.call(ctx, request{op: "getOrganisationsByIds", method: http.MethodGet, path: "/v1/organisations/by-ids",
		query: url.Values{"ids": {strings.Join(ids, ",")}}, auth: true}, &out)
	return out, err
}

// GetCurrentOrganisation returns the caller's own organisation (flattened).
func (c *Client) GetCurrentOrganisation(ctx context.Context) (*OrganisationRecord, error) {
	return callFor[OrganisationRecord](ctx, c, request{op: "getCurrentOrganisation", method: http.MethodGet, path: "/v1/organisations/me", auth: true})
}

// GetOrganisation returns one organisation.
func (c *Client) GetOrganisation(ctx context.Context, id string) (*Organisation, error) {
	return callFor[Organisation](ctx, c, request{op: "getOrganisation", method: http.MethodGet, path: "/v1/organisations/" + url.PathEscape(id), auth: true})
}

// CreateOrganisation creates an organisation. A duplicate (same name and
// company number) answers 409.
func (c *Client) CreateOrganisation(ctx context.Context, req CreateOrganisationRequest) (*Organisation, error) {
	return callFor[Organisation](ctx, c, request{op: "createOrganisation", method: http.MethodPost, path: "/v1/organisations", body: req, auth: true})
}

// UpdateOrganisation patches an organisation; nil fields are left alone.
func (c *Client) UpdateOrganisation(ctx context.Context, id string, req UpdateOrganisationRequest) (*Organisation, error) {
	return callFor[Organisation](ctx, c, request{op: "updateOrganisation", method: http.MethodPatch, path: "/v1/organisations/" + url.PathEscape(id), body: req, auth: true})
}

// ActivateOrganisation sets an organisation active.
func (c *Client) ActivateOrganisation(ctx context.Context, id string) (*Organisation, error) {
	return callFor[Organisation](ctx, c, request{op: "activateOrganisation", method: http.MethodPost, path: "/v1/organisations/" + url.PathEscape(id) + "/activate", auth: true})
}

// Business units and businesses.

// CreateBusinessUnit creates a business unit (a farm with its business, say).
func (c *Client) CreateBusinessUnit(ctx context.Context, req CreateBusinessUnitRequest) (*BusinessUnit, error) {
	return callFor[BusinessUnit](ctx, c, request{op: "createBusinessUnit", method: http.MethodPost, path: "/v1/business-units", body: req, auth: true})
}

// UpdateBusinessUnit patches a business unit and its business.
func (c *Client) UpdateBusinessUnit(ctx context.Context, id string, req UpdateBusinessUnitRequest) (*BusinessUnit, error) {
	return callFor[BusinessUnit](ctx, c, request{op: "updateBusinessUnit", method: http.MethodPatch, path: "/v1/business-units/" + url.PathEscape(id), body: req, auth: true})
}

// BusinessUnitsSummary lists every business unit of an organisation.
func (c *Client) BusinessUnitsSummary(ctx context.Context, organisationID string) (*BusinessUnitsSummary, error) {
	return callFor[BusinessUnitsSummary](ctx, c, request{op: "getBusinessUnitsSummary", method: http.MethodGet, path: "/v1/organisations/" + url.PathEscape(organisationID) + "/business-units/summary", auth: true})
}

// BusinessUnits lists the business units of an organisation the caller may
// access, with their businesses; filter, when not nil, keeps matching units.
func (c *Client) BusinessUnits(ctx context.Context, organisationID string, filter func(BusinessUnit) bool) (*OrganisationBusinessUnits, error) {
	var out OrganisationBusinessUnits
	if err := c.call(ctx, request{op: "getOrganisationBusinessUnits", method: http.MethodGet, path: "/v1/organisations/" + url.PathEscape(organisationID) + "/business-units", auth: true}, &out); err != nil {
		return nil, err
	}
	if filter != nil {
		kept := out.BusinessUnits[:0]
		for _, bu := range out.BusinessUnits {
			if filter(bu) {
				kept = append(kept, bu)
			}
		}
		out.BusinessUnits = kept
	}
	return &out, nil
}

// GetBusiness returns one business.
func (c *Client) GetBusiness(ctx context.Context, id string) (*Business, error) {
	return callFor[Business](ctx, c, request{op: "getBusiness", method: http.MethodGet, path: "/v1/businesses/" + url.PathEscape(id), auth: true})
}

// BusinessesByBusinessUnitIDs returns the businesses of the given business units.
func (c *Client) BusinessesByBusinessUnitIDs(ctx context.Context, businessUnitIDs []string) ([]Business, error) {
	var out []Business
	err := c.call(ctx, request{op: "getBusinessesByBusinessUnitIds", method: http.MethodGet, path: "/v1/businesses",
		query: url.Values{"ids": {strings.Join(businessUnitIDs, ",")}}, auth: true}, &out)
	return out, err
}

// CertificateQuery looks up Red Tractor certificates. Country is ISO3
// ("GBR" when empty); give a Postcode, a HoldingNumber or both.
type CertificateQuery struct {
	Country       string
	Postcode      string
	HoldingNumber string
}

// RedTractorCertificates returns the Valid or Grace certificates matching q.
func (c *Client) RedTractorCertificates(ctx context.Context, q CertificateQuery) ([]Certificate, error) {
	if q.Country == "" {
		q.Country = "GBR"
	}
	v := url.Values{"country": {q.Country}}
	setIf(v, "postcode", q.Postcode)
	setIf(v, "holdingNumber", q.HoldingNumber)
	var out []Certificate
	err := c.call(ctx, request{op: "getRedTractorCertificates", method: http.MethodGet, path: "/v1/red-tractor/certificates", query: v, auth: true}, &out)
	return out, err
}

// ImportBusinessUnits uploads a CSV of business units.
func (c *Client) ImportBusinessUnits(ctx context.Context, organisationID, fileName string, csv []byte) (*ImportResult, error) {
	return c.importCSV(ctx, "importBusinessUnits", "/v1/business-units/import", organisationID, fileName, csv)
}

// ImportOrganisations uploads a CSV of organisations.
func (c *Client) ImportOrganisations(ctx context.Context, fileName string, csv []byte) (*ImportResult, error) {
	return c.importCSV(ctx, "importOrganisations", "/v1/organisations/import", "", fileName, csv)
}

func (c *Client) importCSV(ctx context.Context, op, path, organisationID, fileName string, data []byte) (*ImportResult, error) {
	mp := &multipartBody{fields: map[string]string{}, files: []multipartFile{{name: fileName, data: data}}}
	if organisationID != "" {
		mp.fields["organisationId"] = organisationID
	}
	return callFor[ImportResult](ctx, c, request{op: op, method: http.MethodPost, path: path, multipart: mp, auth: true})
}

// Users.

// UserQuery filters and pages ListUsers.
type UserQuery struct {
	Limit           int
	Offset          int
	SortBy          string
	SortDesc        bool
	Query           string
	Status          string
	OrganisationID  string
	OrganisationIDs []string
}

func (q UserQuery) values() url.Values {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	setIf(v, "sortBy", q.SortBy)
	if q.SortDesc {
		v.Set("sortDesc", "true")
	}
	setIf(v, "query", q.Query)
	setIf(v, "status", q.Status)
	setIf(v, "organisationId", q.OrganisationID)
	if len(q.OrganisationIDs) > 0 {
		v.Set("organisationIds", strings.Join(q.OrganisationIDs, ","))
	}
	return v
}

// ListUsers returns one page of users.
func (c *Client) ListUsers(ctx context.Context, q UserQuery) ([]User, error) {
	var out []User
	err := c.call(ctx, request{op: "listUsers", method: http.MethodGet, path: "/v1/users", query: q.values(), auth: true}, &out)
	return out, err
}

// CountUsers returns how many users match q.
func (c *Client) CountUsers(ctx context.Context, q UserQuery) (int, error) {
	q.Limit, q.Offset = 0, 0
	return c.count(ctx, "listUsers", "/v1/users", q.values())
}

// CreateUser creates a user (team owners only). The user receives a
// temporary password and must answer the NEW_PASSWORD_REQUIRED challenge.
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (*User, error) {
	return callFor[User](ctx, c, request{op: "createUser", method: http.MethodPost, path: "/v1/users", body: req, auth: true})
}

// PatchUser patches a user; nil fields are left alone.
func (c *Client) PatchUser(ctx context.Context, id string, req PatchUserRequest) (*User, error) {
	return callFor[User](ctx, c, request{op: "patchUser", method: http.MethodPatch, path: "/v1/users/" + url.PathEscape(id), body: req, auth: true})
}

// UsersByIDs returns user summaries by id.
func (c *Client) UsersByIDs(ctx context.Context, ids []string) ([]UserSummary, error) {
	var out UserSummaryList
	err := c.call(ctx, request{op: "getUsersByIds", method: http.MethodGet, path: "/v1/users/by-ids",
		query: url.Values{"ids": {strings.Join(ids, ",")}}, auth: true}, &out)
	return out.Users, err
}

// UserSummaries returns user summaries by id (the summaries endpoint).
func (c *Client) UserSummaries(ctx context.Context, ids []string) ([]UserSummary, error) {
	var out UserSummaryList
	err := c.call(ctx, request{op: "getUserSummariesByIds", method: http.MethodGet, path: "/v1/users/summaries",
		query: url.Values{"ids": {strings.Join(ids, ",")}}, auth: true}, &out)
	return out.Users, err
}

// Business connections.

// CreateBusinessConnection connects the caller's organisation to another
// (ID) or to a new shell organisation; its contacts become users. An
// existing connection answers 409.
func (c *Client) CreateBusinessConnection(ctx context.Context, req BusinessConnectionRequest) (*BusinessConnections, error) {
	return callFor[BusinessConnections](ctx, c, request{op: "createBusinessConnection", method: http.MethodPost, path: "/v1/business-connections", body: req, auth: true})
}

// ConnectionQuery pages BusinessConnections.
type ConnectionQuery struct {
	Limit    int
	Offset   int
	SortBy   string
	SortDesc bool
	Tags     string
}

// BusinessConnections returns the caller's connections.
func (c *Client) BusinessConnections(ctx context.Context, q ConnectionQuery) (*BusinessConnections, error) {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	setIf(v, "sortBy", q.SortBy)
	if q.SortDesc {
		v.Set("sortDesc", "true")
	}
	setIf(v, "tags", q.Tags)
	return callFor[BusinessConnections](ctx, c, request{op: "getBusinessConnections", method: http.MethodGet, path: "/v1/business-connections", query: v, auth: true})
}

// CheckBusinessConnection reports organisations matching req (by contacts,
// email domain and name) and whether a new connection should be blocked.
func (c *Client) CheckBusinessConnection(ctx context.Context, req BusinessConnectionRequest) (*BusinessConnectionCheckResult, error) {
	return callFor[BusinessConnectionCheckResult](ctx, c, request{op: "checkBusinessConnectionExists", method: http.MethodPost, path: "/v1/business-connections/check", body: req, auth: true})
}

// InNetwork reports whether an organisation is connected to the caller's.
func (c *Client) InNetwork(ctx context.Context, organisationID string) (bool, error) {
	var out struct {
		IsInNetwork bool `json:"isInNetwork"`
	}
	err := c.call(ctx, request{op: "checkBusinessConnectionInNetwork", method: http.MethodPost, path: "/v1/business-connections/in-network",
		body: map[string]string{"organisationId": organisationID}, auth: true}, &out)
	return out.IsInNetwork, err
}

// DeleteBusinessConnection removes the connection to an organisation.
func (c *Client) DeleteBusinessConnection(ctx context.Context, organisationID string) error {
	return c.call(ctx, request{op: "deleteBusinessConnection", method: http.MethodDelete, path: "/v1/business-connections/" + url.PathEscape(organisationID), auth: true}, nil)
}

// AddBusinessConnectionRelationship adds a relationship to a connection.
func (c *Client) AddBusinessConnectionRelationship(ctx context.Context, organisationID string, rel Relationship) error {
	return c.call(ctx, request{op: "addBusinessConnectionRelationship", method: http.MethodPost,
		path: "/v1/business-connections/" + url.PathEscape(organisationID) + "/relationships/" + url.PathEscape(string(rel)), auth: true}, nil)
}

// ConnectContact gives a contact of a connected organisation access to the caller's organisation.
func (c *Client) ConnectContact(ctx context.Context, organisationID, userID string) (*User, error) {
	return c.contact(ctx, "connectBusinessConnectionContact", http.MethodPost, organisationID, userID)
}

// DisconnectContact removes that access again.
func (c *Client) DisconnectContact(ctx context.Context, organisationID, userID string) (*User, error) {
	return c.contact(ctx, "disconnectBusinessConnectionContact", http.MethodDelete, organisationID, userID)
}

func (c *Client) contact(ctx context.Context, op, method, organisationID, userID string) (*User, error) {
	var out User
	if err := c.call(ctx, request{op: op, method: method,
		path: "/v1/business-connections/" + url.PathEscape(organisationID) + "/contacts/" + url.PathEscape(userID), auth: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// callFor runs one call whose answer decodes into a T.
func callFor[T any](ctx context.Context, c *Client, r request) (*T, error) {
	var out T
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
