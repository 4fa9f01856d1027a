package state

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The history is a short trail per ERP key and platform: the last
// HistoryLimit outcomes of the connector's work on the record (created,
// updated, refused and why, …), for `erpconnector trace`. It is written in
// the transaction of the job's other effects (Defer), so it never tells of
// work whose outcome was not committed.

// HistoryLimit is how many events a key keeps per platform.
const HistoryLimit = 10

// maxReason bounds the reason an event keeps.
const maxReason = 400

// Event is one outcome in a record's history.
type Event struct {
	// At is when it happened (the last time, when it repeated).
	At time.Time `json:"at"`
	// Outcome names it: created, updated, unchanged, adopted, deleted,
	// deactivated, unbound, refused, pulled, imported, unlinked,
	// marked_deleted.
	Outcome string `json:"outcome"`
	// ID is the platform id it concerns.
	ID string `json:"platform_id,omitempty"`
	// Reason says why (a refusal's error, the fields taken in).
	Reason string `json:"reason,omitempty"`
	// Times counts how often it happened in a row (absent: once).
	Times int `json:"times,omitempty"`
}

func historyBucket(p mapping.Platform) []byte { return []byte("history." + string(p)) }

// AddEvent appends an event to the history of an ERP key on a platform,
// stamped now; the same outcome, id and reason as the last event counts
// as a repeat of it. The oldest events beyond HistoryLimit are dropped.
func (t *Tx) AddEvent(p mapping.Platform, erpKey string, e Event) error {
	b, err := t.bucket(historyBucket(p))
	if err != nil {
		return err
	}
	// As the bindings' pages: keys arrive in scan order in a migration, in
	// random order otherwise.
	b.FillPercent = 0.7
	events, err := t.History(p, erpKey)
	if err != nil {
		return err
	}
	e.At, e.Reason, e.Times = t.s.now().UTC(), shorten(e.Reason), 0
	if n := len(events); n > 0 {
		last := &events[n-1]
		if last.Outcome == e.Outcome && last.ID == e.ID && last.Reason == e.Reason {
			last.At, last.Times = e.At, max(last.Times, 1)+1
			return t.putHistory(b.Put, erpKey, events)
		}
	}
	events = append(events, e)
	if len(events) > HistoryLimit {
		events = events[len(events)-HistoryLimit:]
	}
	return t.putHistory(b.Put, erpKey, events)
}

func (t *Tx) putHistory(put func(k, v []byte) error, erpKey string, events []Event) error {
	if err := put([]byte(erpKey), encodeHistory(events)); err != nil {
		return fmt.Errorf("state: history: %w", err)
	}
	return nil
}

// History returns the history of an ERP key on a platform, oldest first.
func (t *Tx) History(p mapping.Platform, erpKey string) ([]Event, error) {
	b := t.tx.Bucket(historyBucket(p))
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(erpKey))
	if v == nil {
		return nil, nil
	}
	events, err := decodeHistory(v)
	if err != nil {
		return nil, fmt.Errorf("state: history %s/%s: %w", p, erpKey, err)
	}
	return events, nil
}

// A history is stored in the bindings' compact binary form (a customer
// migration writes one per customer):
//
//	0x01 · uvarint count · (varint At (unix ns) · string Outcome · id ID ·
//	string Reason · uvarint Times)…
const historyCodecV1 = 0x01

func encodeHistory(events []Event) []byte {
	buf := make([]byte, 0, 8+len(events)*40)
	buf = append(buf, historyCodecV1)
	buf = binary.AppendUvarint(buf, uint64(len(events)))
	for _, e := range events {
		buf = binary.AppendVarint(buf, unixNano(e.At))
		buf = appendString(buf, e.Outcome)
		buf = appendID(buf, e.ID)
		buf = appendString(buf, e.Reason)
		buf = binary.AppendUvarint(buf, uint64(max(e.Times, 0)))
	}
	return buf
}

func decodeHistory(v []byte) ([]Event, error) {
	d := bindingReader{buf: v}
	if d.byte() != historyCodecV1 {
		return nil, fmt.Errorf("%w: unknown history format", errBindingCodec)
	}
	n := d.uvarint()
	if n > uint64(len(v)) {
		return nil, fmt.Errorf("%w: event count %d", errBindingCodec, n)
	}
	events := make([]Event, 0, n)
	for range n {
		var e Event
		e.At = fromUnixNano(d.varint())
		e.Outcome = d.string()
		e.ID = d.id()
		e.Reason = d.string()
		e.Times = int(min(d.uvarint(), math.MaxInt32))
		events = append(events, e)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBindingCodec, len(d.buf))
	}
	return events, nil
}

// shorten cuts a reason to maxReason bytes, on a rune boundary.
func shorten(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// WriteBackOf returns the platform id waiting to be written back to an
// ERP key, if any.
func (t *Tx) WriteBackOf(p mapping.Platform, erpKey string) (string, bool) {
	b := t.tx.Bucket(bktWriteBacks)
	if b == nil {
		return "", false
	}
	v := b.Get(writeBackKey(p, erpKey))
	return string(v), v != nil
}

// KeyJobs returns the jobs of a job key waiting or in flight, and its dead
// letter (nil when there is none).
func (t *Tx) KeyJobs(key string) ([]queue.Job, *queue.Job, error) {
	return t.s.q.KeyJobsTx(t.tx, key)
}
