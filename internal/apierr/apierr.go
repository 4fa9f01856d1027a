// Package apierr holds the error type both platform clients return and the one
// function that classifies any error for the queue: retryable, permanent or
// outcome-unknown.
package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBodyExcerpt is how many bytes of a response body an Error keeps.
const MaxBodyExcerpt = 512

// FieldError is one field-level problem reported by a platform (or found locally).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a non-2xx answer from a platform API.
type Error struct {
	// Operation names the call, e.g. "createClient".
	Operation string
	// Status is the HTTP status code.
	Status int
	// RetryAfter is the parsed Retry-After header, zero when absent.
	RetryAfter time.Duration
	// Message is the platform's summary when its body parsed.
	Message string
	// Fields lists field-level problems when the platform reported them.
	Fields []FieldError
	// Body is an excerpt of the raw response body (at most MaxBodyExcerpt bytes).
	Body string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: status %d", e.Operation, e.Status)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.Message == "" && len(e.Fields) == 0 && e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// errorBody is the shape both reference servers answer errors with; real
// platforms may send anything, so parsing it is best effort.
type errorBody struct {
	Status  int          `json:"status"`
	Message string       `json:"message"`
	Errors  []FieldError `json:"errors"`
}

// FromResponse builds an Error from a non-2xx response. now is used to turn
// an HTTP-date Retry-After into a duration.
func FromResponse(op string, status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{Operation: op, Status: status, Body: Excerpt(body, MaxBodyExcerpt)}
	if header != nil {
		e.RetryAfter = ParseRetryAfter(header.Get("Retry-After"), now)
	}
	var eb errorBody
	if len(body) > 0 && json.Unmarshal(body, &eb) == nil {
		e.Message = eb.Message
		e.Fields = eb.Errors
	}
	return e
}

// Excerpt returns at most n bytes of b as valid UTF-8 text, marked when cut.
func Excerpt(b []byte, n int) string {
	if len(b) <= n {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	cut := b[:n]
	for len(cut) > 0 && !utf8.Valid(cut) {
		cut = cut[:len(cut)-1]
	}
	return strings.ToValidUTF8(string(cut), "\uFFFD") + "…"
}

// ParseRetryAfter reads a Retry-After value in delta-seconds or HTTP-date form.
// It returns 0 for an absent or unparsable value.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 24*3600 {
			secs = 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Class is how the queue should treat a failed attempt.
type Class int

const (
	// Success means there was no error.
	Success Class = iota
	// Retryable errors are worth trying again later: 5xx, 429, 408, timeouts,
	// connection failures.
	Retryable
	// Permanent errors will fail again unchanged: 4xx validation and the like.
	// The job goes to the dead letters with its reason.
	Permanent
	// OutcomeUnknown means a request may or may not have taken effect (for
	// example a create whose connection dropped after sending). The caller must
	// look before it repeats a non-idempotent write.
	OutcomeUnknown
	// Canceled means the caller's context ended; neither success nor failure.
	Canceled
	// Unauthorized means the platform refused the connector's credentials
	// (a wrong or rotated API key or password, an unknown tenant): the
	// failure is the upstream's, not the record's. The job is kept and the
	// upstream paused until the credentials work again.
	Unauthorized
)

func (c Class) String() string {
	switch c {
	case Success:
		return "success"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case OutcomeUnknown:
		return "outcome_unknown"
	case Canceled:
		return "canceled"
	case Unauthorized:
		return "unauthorized"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ErrOutcomeUnknown marks an error whose request may have been applied.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// ErrPermanent marks an error that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// ErrRetryable marks an error that a later attempt may not meet.
var ErrRetryable = errors.New("temporary failure")

// ErrCredentials marks an error that says the platform refused the
// connector's credentials.
var ErrCredentials = errors.New("credentials refused")

// CredentialsRefused wraps err so Classify reports Unauthorized.
func CredentialsRefused(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrCredentials}
}

// UnknownOutcome wraps err so Classify reports OutcomeUnknown.
func UnknownOutcome(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrOutcomeUnknown}
}

// Permanently wraps err so Classify reports Permanent.
func Permanently(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrPermanent}
}

// Temporarily wraps err so Classify reports Retryable.
func Temporarily(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrRetryable}
}

// At records that err came from the named system (for example "erp").
// A delivery pool of another upstream neither counts such an error against
// its circuit breaker nor pauses for it: the ERP being unavailable says
// nothing about the health of a platform.
func At(system string, err error) error {
	if err == nil {
		return nil
	}
	return &systemError{err: err, system: system}
}

// SystemOf returns the system At recorded for err, "" when none.
func SystemOf(err error) string {
	var se *systemError
	if errors.As(err, &se) {
		return se.system
	}
	return ""
}

type systemError struct {
	err    error
	system string
}

func (s *systemError) Error() string { return s.err.Error() }
func (s *systemError) Unwrap() error { return s.err }

type markedError struct {
	err  error
	mark error
}

func (m *markedError) Error() string   { return m.err.Error() }
func (m *markedError) Unwrap() []error { return []error{m.err, m.mark} }

// Classify maps any error to a Class. It is the one place that decides.
func Classify(err error) Class {
	if err == nil {
		return Success
	}
	// Explicit marks win over everything underneath them.
	switch {
	case errors.Is(err, ErrCredentials):
		return Unauthorized
	case errors.Is(err, ErrOutcomeUnknown):
		return OutcomeUnknown
	case errors.Is(err, ErrPermanent):
		return Permanent
	case errors.Is(err, ErrRetryable):
		return Retryable
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ClassifyStatus(ae.Status)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Retryable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Retryable
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Retryable
	}
	// Transport-level errors (EOF, reset, refused) are worth another try.
	return Retryable
}

// ClassifyStatus maps an HTTP status to a Class.
func ClassifyStatus(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return Success
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout,
		status == http.StatusTooEarly, status >= 500:
		return Retryable
	default:
		return Permanent
	}
}

// RetryAfterOf returns the Retry-After carried by err, if any.
func RetryAfterOf(err error) time.Duration {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// StatusOf returns the HTTP status carried by err, or 0.
func StatusOf(err error) int {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// IsNotFound reports whether err is a platform 404.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsConflict reports whether err is a platform 409.
func IsConflict(err error) bool { return StatusOf(err) == http.StatusConflict }
