// Package customerapi is the typed client of the agricultural platform's
// Customer API: organisations, business units, businesses with their Red
// Tractor assurance, users and business connections.
//
// A Client logs in with a password (answering the NEW_PASSWORD_REQUIRED
// challenge when configured) or with an ApiToken, refreshes its bearer token
// before it expires, and repeats a request exactly once after a 401 with a
// fresh token. It never retries anything else: a non-2xx answer becomes an
// *APIError (the project's apierr.Error) that the queue classifies.
//
// The contract the client and the reference server (customerapitest) follow
// is embedded as OpenAPISpec.
package customerapi

import (
	_ "embed"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// OpenAPISpec is the project's copy of the Customer API contract (OpenAPI 3.0).
//
//go:embed openapi.yaml
var OpenAPISpec []byte

// APIError is a non-2xx answer from the Customer API.
type APIError = apierr.Error

// FieldError is one field-level problem in an APIError.
type FieldError = apierr.FieldError
