package oneapi

import _ "embed"

// OpenAPISpec is the project's copy of the ONe clients API contract
// (openapi.yaml beside this file). Tests validate traffic against it.
//
//go:embed openapi.yaml
var OpenAPISpec []byte
