package queue

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// GetCursor returns a named cursor (a feed position, a change marker); ok is
// false when it was never set.
func (s *Store) GetCursor(ctx context.Context, name string) (value []byte, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("queue: get cursor: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		value, ok = GetCursorTx(tx, name)
		return nil
	})
	return value, ok, err
}

// SetCursor stores a named cursor.
func (s *Store) SetCursor(ctx context.Context, name string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: set cursor: %w", err)
	}
	return s.db.Update(func(tx *bolt.Tx) error { return SetCursorTx(tx, name, value) })
}

// GetCursorTx reads a cursor inside a transaction; the value is a copy.
func GetCursorTx(tx *bolt.Tx, name string) ([]byte, bool) {
	v := tx.Bucket(bktCursors).Get([]byte(name))
	if v == nil {
		return nil, false
	}
	return bytes.Clone(v), true
}

// SetCursorTx writes a cursor inside a transaction opened with Update, e.g.
// together with EnqueueTx so the cursor moves only with the queued work.
func SetCursorTx(tx *bolt.Tx, name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("queue: set cursor: name: must not be empty")
	}
	if err := tx.Bucket(bktCursors).Put([]byte(name), bytes.Clone(value)); err != nil {
		return fmt.Errorf("queue: set cursor %q: %w", name, err)
	}
	return nil
}
