// Package platform is the contract between the sync engine (package
// connector) and the platforms it keeps in step with the ERP. The engine
// has one push, one pull, one plan, one resync and one replay path, written
// against Platform; each platform is one package of dumb operations
// (connector/one, connector/customerapi) that knows its API and the mapping
// but nothing of the queue, the state file or the other platforms.
//
// Optional capabilities are small interfaces discovered by type assertion
// (Feed, Importer, Enricher); each implementation states what it satisfies
// with interface guards beside its type.
package platform

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// Ref identifies a record on a platform.
type Ref struct {
	// ID is the platform's id (the ONe client id, the Customer API
	// organisation id).
	ID string
	// Extra holds secondary ids the platform needs again (the ONe billing
	// address id, the Customer API farm business unit id). The engine stores
	// it with the binding and hands it back unchanged.
	Extra map[string]string
}

// Record is a platform record as read.
type Record struct {
	// Ref identifies the record.
	Ref Ref
	// Customer is what the platform holds, in canonical terms. Its ERPKey is
	// the platform's external id where the platform carries one.
	Customer mapping.Customer
	// Partial reports that the record lacks the carrier's optional fields
	// (a Customer API organisation without a farm business unit).
	Partial bool
	// Inactive reports that the record is deactivated on the platform.
	Inactive bool
	// Seen is the content hash of what was read: a record read twice with
	// nothing changed in between has the same Seen, whether it was read
	// by Fetch or in a List page, and the same as the Written.Seen of the
	// write that left it so. Empty means unknown (never equal).
	Seen string
	// Raw is the platform's own form of what was read, for the platform's
	// use only (a full write carries over what the canonical form lacks).
	Raw any
}

// Written is what a create or an update left on the platform.
type Written struct {
	// Ref identifies the record.
	Ref Ref
	// Have is the digest of what the platform now holds, part by part (the
	// parts sent, when a write failed part way).
	Have mapping.Digest
	// Seen is the Seen a List or Fetch reports for the record as long as
	// nobody else changes it: taken from the platform's answers or from
	// what was sent and the values the platform keeps. Empty when the
	// platform cannot tell (the record is then read once to find out).
	Seen string
	// Read is the record as Update read it before a full write (nil when
	// it read nothing).
	Read *Record
}

// Page is one page of a listing.
type Page struct {
	// Records are the page's records.
	Records []Record
	// Next is the cursor of the next page, "" after the last.
	Next string
}

// Policy is what happens on a platform when the ERP unflags or deletes a
// bound customer.
type Policy string

// Policies.
const (
	// PolicyUnbind leaves the platform record and forgets the link.
	PolicyUnbind Policy = "unbind"
	// PolicyDelete deletes the platform record (ONe).
	PolicyDelete Policy = "delete"
	// PolicyDeactivate deactivates the platform record through its status
	// (Customer API organisations).
	PolicyDeactivate Policy = "deactivate"
)

// ErrGone is returned (wrapped, marked permanent) by Fetch, Update and
// Remove when the record no longer exists on the platform.
var ErrGone = errors.New("platform: record gone")

// Gone returns ErrGone for what, marked permanent.
func Gone(what string) error {
	return apierr.Permanently(&goneError{what: what})
}

type goneError struct{ what string }

func (e *goneError) Error() string { return e.what + ": record gone from the platform" }
func (e *goneError) Unwrap() error { return ErrGone }

// IsGone reports whether err says the record is gone from the platform.
func IsGone(err error) bool { return errors.Is(err, ErrGone) || apierr.IsNotFound(err) }

// Platform is one platform the engine keeps in step with the ERP.
type Platform interface {
	// Name names the platform (bindings, flags and platform ids use it).
	Name() mapping.Platform
	// Wants reports whether the ERP flags c for this platform.
	Wants(c mapping.Customer) bool
	// Prepare validates c for this platform, with field-level errors (a
	// *mapping.ValidationError naming only fields this platform receives),
	// and returns the digest of what the platform would receive.
	Prepare(c mapping.Customer) (mapping.Digest, error)
	// Digest is the digest of what the platform would receive for c,
	// without validating it (Prepare's digest of a valid customer).
	Digest(c mapping.Customer) (mapping.Digest, error)
	// Carrier is what the platform carries of a customer: the pure
	// ownership logic (views for echo suppression, merges) runs over it.
	Carrier() *mapping.Carrier
	// Identity is what the platform keeps unique for a customer (ONe: the
	// external id; the Customer API: name and company number), comparable
	// between an ERP customer and a Record's customer.
	Identity(c mapping.Customer) string

	// Create creates the record of c and what goes with it (ONe's finance
	// data, the Customer API's farm business unit). It returns what it
	// wrote; when the record was created but a follow-up write failed, it
	// returns the record's Ref and the digest parts sent with the error.
	Create(ctx context.Context, c mapping.Customer, want mapping.Digest) (Written, error)
	// Update sends what changed between have (what the platform holds) and
	// want: only the writes whose digest parts differ. A full write
	// carries over what the platform holds and the ERP does not hold or
	// does not own, from cur (read first when nil and needed: Written.Read).
	// It returns what it wrote (the Ref: secondary ids may change; the
	// digest parts now held).
	Update(ctx context.Context, ref Ref, c mapping.Customer, want, have mapping.Digest, cur *Record) (Written, error)
	// Find looks for the record an earlier attempt may have created for c
	// (after an outcome-unknown create or a duplicate refusal). taken
	// reports ids bound to another ERP customer: never adopted. A lookup
	// that relies on a listing trusts only one begun after notBefore to
	// say there is none.
	Find(ctx context.Context, c mapping.Customer, notBefore time.Time, taken func(id string) bool) (*Ref, error)
	// Remove applies an unflag policy other than PolicyUnbind.
	Remove(ctx context.Context, ref Ref, policy Policy) error
	// Fetch reads one record (ErrGone when it no longer exists).
	Fetch(ctx context.Context, ref Ref) (Record, error)
	// List reads one page of every record the platform shows ("" for the
	// first page). known returns the Ref bound to an id; a platform may
	// leave out of unknown records what costs extra requests (their Seen
	// is then empty).
	List(ctx context.Context, cursor string, known func(id string) (Ref, bool)) (Page, error)
}

// Seeker is a platform whose listing cursors are positions (a page
// number, an offset), so the cursor after a full page is known before that
// page is read: a walk of the listing reads the following pages side by
// side.
type Seeker interface {
	// NextCursor returns the cursor of the page after cursor's, were that
	// page full.
	NextCursor(cursor string) (string, bool)
}

// FeedBatch is one batch of a change feed.
type FeedBatch struct {
	// IDs are the records that changed (deduplicated within the batch).
	IDs []string
	// Cursor is the feed position after the batch.
	Cursor string
	// Events counts the batch's events.
	Events int
}

// Feed is a platform that tells its changes (ONe's client feed). The
// engine polls it; a platform without one is walked by List.
type Feed interface {
	// Poll reads the feed from cursor ("" from the start), batch by batch.
	Poll(ctx context.Context, cursor string) iter.Seq2[FeedBatch, error]
}

// Importer is a platform whose records unknown to the ERP (registered on
// the platform) become new ERP customers.
type Importer interface {
	// Importable reports whether an unbound record is to be taken in.
	Importable(r Record) bool
}

// Enricher is a platform that adds data to ERP customers it holds (the
// Customer API's Red Tractor certificates).
type Enricher interface {
	// Enrichable reports whether a bound record gets enriched.
	Enrichable(ref Ref) bool
	// Enrich looks up what to add to c and returns the change as a function
	// the engine applies to the freshest ERP record (nil: nothing to look
	// up for c).
	Enrich(ctx context.Context, c mapping.Customer) (func(mapping.Customer) mapping.Customer, error)
}
