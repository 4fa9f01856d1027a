package customerapi

import (
	"context"
	"iter"
)

// DefaultPageSize is the page size of the streaming listers.
const DefaultPageSize = 100

// AllOrganisations streams every organisation matching q page by page
// (q.Limit is the page size, DefaultPageSize when 0, starting at q.Offset).
// Only one page is held at a time. Iteration stops at the first error,
// which is yielded once.
func (c *Client) AllOrganisations(ctx context.Context, q OrganisationQuery) iter.Seq2[Organisation, error] {
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	return stream(func(offset int) ([]Organisation, error) {
		q.Offset = offset
		return c.ListOrganisations(ctx, q)
	}, q.Offset, q.Limit)
}

// AllUsers streams every user matching q page by page, like AllOrganisations.
func (c *Client) AllUsers(ctx context.Context, q UserQuery) iter.Seq2[User, error] {
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	return stream(func(offset int) ([]User, error) {
		q.Offset = offset
		return c.ListUsers(ctx, q)
	}, q.Offset, q.Limit)
}

func stream[T any](page func(offset int) ([]T, error), offset, limit int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, err := page(offset)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if len(items) < limit {
				return
			}
			offset += len(items)
		}
	}
}
