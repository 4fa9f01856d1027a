// Package refhttp holds the HTTP plumbing both reference servers share: JSON
// answers, the error body, and strict-but-realistic request body decoding
// (size limit, malformed JSON, wrong types reported per field).
package refhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// MaxBody is the largest request body the reference servers accept (1 MiB).
const MaxBody = 1 << 20

// ErrorBody is the error shape of both reference servers.
type ErrorBody struct {
	Status  int                 `json:"status"`
	Message string              `json:"message"`
	Errors  []apierr.FieldError `json:"errors,omitempty"`
}

// WriteJSON answers with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError answers with the error body.
func WriteError(w http.ResponseWriter, status int, message string) {
	WriteFieldErrors(w, status, message, nil)
}

// WriteFieldErrors answers with the error body listing field problems.
func WriteFieldErrors(w http.ResponseWriter, status int, message string, fields []apierr.FieldError) {
	b, _ := json.Marshal(ErrorBody{Status: status, Message: message, Errors: fields})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// BodyError is a request body that could not be decoded.
type BodyError struct {
	Status  int
	Message string
	Fields  []apierr.FieldError
}

func (e *BodyError) Error() string { return e.Message }

// Write answers the request with this error.
func (e *BodyError) Write(w http.ResponseWriter) {
	WriteFieldErrors(w, e.Status, e.Message, e.Fields)
}

// Decode reads a JSON body into v. It answers 413 for bodies over MaxBody,
// 400 for a missing or malformed body and for values of the wrong type (with
// the field's path), as a JSON API server would. Unknown fields are ignored.
func Decode(w http.ResponseWriter, r *http.Request, v any) *BodyError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &BodyError{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
		}
		return &BodyError{Status: http.StatusBadRequest, Message: "read request body: " + err.Error()}
	}
	return DecodeBytes(body, v)
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(body []byte, v any) *BodyError {
	if len(strings.TrimSpace(string(body))) == 0 {
		return &BodyError{Status: http.StatusBadRequest, Message: "request body is required"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "$"
			}
			return &BodyError{Status: http.StatusBadRequest, Message: "validation failed",
				Fields: []apierr.FieldError{{Field: field, Message: fmt.Sprintf("must be %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}}}
		}
		var fe *FieldDecodeError
		if errors.As(err, &fe) {
			return &BodyError{Status: http.StatusBadRequest, Message: "validation failed",
				Fields: []apierr.FieldError{{Field: fe.Field, Message: fe.Message}}}
		}
		return &BodyError{Status: http.StatusBadRequest, Message: "malformed JSON: " + err.Error()}
	}
	return nil
}

// FieldDecodeError lets a custom UnmarshalJSON name the field it rejects.
type FieldDecodeError struct {
	Field   string
	Message string
}

func (e *FieldDecodeError) Error() string { return e.Field + ": " + e.Message }

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "float64", "float32":
		return "a number"
	default:
		if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") {
			return "an integer"
		}
		return k
	}
}
