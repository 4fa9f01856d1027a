// Package erp defines the Adapter every ERP integration implements (a SQL
// table in erp/sqlerp, a drop folder of export files in erp/fileerp) and the
// errors adapters share. Adapters know the ERP and the canonical
// mapping.Customer, never the platforms' wire formats.
//
// Errors carry their class for the queue: ErrNotFound is permanent for the
// record, invalid data is a *mapping.ValidationError (permanent), a database
// or file system hiccup is marked apierr.Temporarily (retryable).
package erp

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// ErrNotFound means no customer has the given key.
var ErrNotFound = errors.New("erp: customer not found")

// ErrUnsupported means the adapter is not configured for the operation
// (for example MarkDeleted without a deleted column).
var ErrUnsupported = errors.New("erp: operation not supported by this adapter's configuration")

// NotFound returns an ErrNotFound for key, marked permanent.
func NotFound(op, key string) error {
	return apierr.Permanently(&KeyError{Op: op, Key: key, Err: ErrNotFound})
}

// KeyError is an error about one customer key.
type KeyError struct {
	// Op is the operation, e.g. "sqlerp: get".
	Op string
	// Key is the ERP key.
	Key string
	// Err is the cause.
	Err error
}

// Error names the operation, the key and the cause.
func (e *KeyError) Error() string { return e.Op + " " + quote(e.Key) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}

// Item is one customer read from the ERP. A row that could not be mapped or
// failed the core check (mapping.ValidateCore: key and type) is still
// returned, with Err set (usually a *mapping.ValidationError holding the
// core problems and the rules' field errors) and Customer filled as far as
// it could be, so the connector can dead-letter it; it never stops a page.
// The rest of validation is each platform's, on the fields it receives: the
// connector keeps of Err's field errors those a platform receives
// (mapping.ValidationError.For) and the platform's Prepare checks the rest.
type Item struct {
	// Key is the ERP key ("" only when the row had none).
	Key string
	// Customer is the mapped customer.
	Customer mapping.Customer
	// Err is the reason the record cannot be synced, or nil.
	Err error
	// Source says where a record without a key came from ("file.csv:12",
	// or a file name when the whole file could not be read), so that the
	// connector can show the operator what it rejected.
	Source string
	// Raw is the text of a record that could not be read (shortened), for
	// the operator.
	Raw string
	// Digest, when not 0, is a digest of the row as read, taken before it
	// was mapped: of every column the adapter reads except its change
	// position (cursor) and the platform ids written back, and of the
	// adapter's configuration. Two items of one key with equal digests map
	// to the same Customer but for UpdatedAt and PlatformIDs. 0: the adapter
	// takes none.
	Digest uint64
	// Known reports that the row was not mapped (KnownLister): Customer
	// holds only ERPKey and PlatformIDs, Err is nil.
	Known bool
}

// MaxRaw is the most bytes of a record Item.Raw keeps.
const MaxRaw = 1024

// ShortRaw shortens a raw record to MaxRaw bytes (on a rune boundary).
func ShortRaw(s string) string {
	if len(s) <= MaxRaw {
		return s
	}
	cut := MaxRaw
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Page is one page of changes.
type Page struct {
	// Items are the changed customers in cursor order.
	Items []Item
	// Cursor is the position after the last item; pass it to the next call.
	// It is opaque; the connector persists it once the items are durably queued.
	Cursor string
	// More reports that another page may follow at once.
	More bool
}

// Adapter is the connector's view of an ERP. Implementations are safe for
// concurrent use.
type Adapter interface {
	// Changes returns up to limit customers flagged for sync (or deleted)
	// that changed after cursor ("" means from the beginning), in a stable
	// order that never skips a row, even when many rows share a timestamp.
	Changes(ctx context.Context, cursor string, limit int) (Page, error)
	// Get returns one customer by key, flagged or not. A record that fails
	// the core check or a rule is returned with Item.Err set; a missing key
	// is ErrNotFound.
	Get(ctx context.Context, key string) (Item, error)
	// Upsert creates or updates a customer that came from a platform and
	// returns its ERP key. When c.ERPKey is empty, the customer is found by
	// its platform id (so repeating the call does not create a duplicate) or
	// created with a new key. Invalid customers (mapping.Validate: the ERP
	// receives every field) are refused with a *mapping.ValidationError;
	// over a customer the ERP holds, only what the write changes counts
	// (mapping.ValidateChange: a value the ERP holds already is not the
	// write's doing).
	Upsert(ctx context.Context, c mapping.Customer) (key string, err error)
	// SetPlatformID records the id a platform assigned to the customer (write-back).
	SetPlatformID(ctx context.Context, key string, platform mapping.Platform, id string) error
	// Unlink forgets the platform id of the customer (the platform deleted it).
	Unlink(ctx context.Context, key string, platform mapping.Platform) error
	// MarkDeleted flags the customer as deleted in the ERP.
	MarkDeleted(ctx context.Context, key string) error
}

// Counter is an optional extra: the number of customers flagged for sync.
type Counter interface {
	CountFlagged(ctx context.Context) (int, error)
}

// KeyLister is an optional extra for full resyncs: the keys of flagged
// customers after a key, in key order, at most limit. Key order is the
// ERP's own (for a SQL table the database's order of its key column:
// numeric for an integer key, the collation's for text), not necessarily
// the byte order of the key strings; "" is before every key.
type KeyLister interface {
	ListKeys(ctx context.Context, after string, limit int) ([]string, error)
}

// System names the ERP in errors marked with apierr.At: a platform's
// delivery pool does not hold the ERP's failures against the platform.
const System = "erp"

// PlatformID is one write-back: the id a platform assigned to a customer.
type PlatformID struct {
	Key      string
	Platform mapping.Platform
	ID       string
}

// PlatformIDWriter is an optional extra: many write-backs in one
// transaction. errs has one entry per id (nil, or what SetPlatformID would
// have returned for it, such as ErrNotFound); err reports a failure of the
// whole batch, in which case nothing was written.
type PlatformIDWriter interface {
	SetPlatformIDs(ctx context.Context, ids []PlatformID) (errs []error, err error)
}

// ItemLister is an optional extra for full resyncs: what ListKeys and a Get
// per key return, in one read per page (flagged customers after a key, in
// the ERP's key order as for KeyLister, at most limit).
type ItemLister interface {
	ListItems(ctx context.Context, after string, limit int) ([]Item, error)
}

// KnownLister is an optional extra of an ItemLister whose items carry a
// Digest: ListItems that does not map a row the caller knows. For each row,
// known is called with its key and digest, in key order, on the calling
// goroutine; a row it reports known is returned as an Item with Known set
// (Key, Digest and Customer.PlatformIDs only), the others as ListItems
// returns them. It returns one item per row listed, as ListItems does (a
// caller takes a page shorter than limit as the last). Mapping (phone
// numbers, rules) is most of a page's cost, so a full resync of unchanged
// customers reads the ERP at the cost of the query.
type KnownLister interface {
	ListKnownItems(ctx context.Context, after string, limit int, known func(key string, digest uint64) bool) ([]Item, error)
}

// KnownChanger is an optional extra of an Adapter whose items carry a
// Digest: Changes that does not map a row the caller knows. For each row
// with a key, known is called with its key and digest, in the page's
// order, on the calling goroutine; a row it reports known is returned as
// an Item with Known set (Key, Digest, Customer.PlatformIDs and
// Customer.UpdatedAt only), the others as Changes returns them. The page
// and its cursor are the same as Changes gives.
type KnownChanger interface {
	ChangesKnown(ctx context.Context, cursor string, limit int, known func(key string, digest uint64) bool) (Page, error)
}

// Holder is an optional extra: the canonical fields the adapter holds (the
// fields its rules target, as in mapping.FieldRule.Field). What a platform
// holds in a field the ERP does not hold is carried over, never erased. An
// adapter without it is taken to hold every field.
type Holder interface {
	HeldFields() []string
}

// Closer is an optional extra: release the adapter's resources.
type Closer interface {
	Close() error
}

// PlatformColumn names an ERP column that belongs to one platform: a sync
// flag column or a write-back column. It is a list entry in configuration
// (viper lower-cases map keys, so platforms are values, not keys).
type PlatformColumn struct {
	// Platform is "one" or "customerapi".
	Platform mapping.Platform `mapstructure:"platform" json:"platform"`
	// Column is the column name.
	Column string `mapstructure:"column" json:"column"`
}

// NewKey derives the ERP key of a customer that arrives from a platform
// without one: the platform name and its id ("ONE-org:…", "CUSTOMERAPI-…").
// It returns "" when the customer has no platform id either.
func NewKey(c mapping.Customer) string {
	switch {
	case c.PlatformIDs.ONe != "":
		return "ONE-" + c.PlatformIDs.ONe
	case c.PlatformIDs.CustomerAPI != "":
		return "CUSTOMERAPI-" + c.PlatformIDs.CustomerAPI
	}
	return ""
}

// Upserted is what one upsert of a batch did: the customer's key and the
// Item Get returns for it once the batch is committed, or Err (what
// Upsert would have returned for it; nothing of it was written).
type Upserted struct {
	Key  string
	Item Item
	Err  error
}

// BatchUpserter is an optional extra: many upserts (as Upsert) in one
// transaction, each read back in it. out has one entry per customer; err
// reports a failure of the whole batch, in which case nothing was
// written.
type BatchUpserter interface {
	UpsertBatch(ctx context.Context, cs []mapping.Customer) (out []Upserted, err error)
	// SerialWrites reports whether the ERP takes one writer at a time
	// (SQLite): writers arriving together then gain by going in one
	// batch. Where writers run side by side (PostgreSQL, on connections of
	// their own), one batch would make them wait for each other instead.
	SerialWrites() bool
}
