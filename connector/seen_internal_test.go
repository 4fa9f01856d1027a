package connector

import (
	"context"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// TestBindingsWithoutSeenHash: bindings an earlier version wrote after a
// create hold no seen hash. A resync reads each of their records once and
// writes nothing; the next resync reads none.
func TestBindingsWithoutSeenHash(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	iw.start(t, 5, 16)
	settle := func(run func(context.Context) error) {
		t.Helper()
		iw.settle(t, run)
	}
	resync := func(ctx context.Context) error { _, err := c.Resync(ctx); return err }
	settle(c.SyncOnce)
	settle(c.SyncOnce)

	bound := map[mapping.Platform]int{}
	for _, s := range c.sites {
		err := c.state.Update(ctx, func(tx *state.Tx) error {
			var bs []state.Binding
			if err := tx.EachBinding(s.name, "", func(b state.Binding) (bool, error) {
				bs = append(bs, b)
				return true, nil
			}); err != nil {
				return err
			}
			for _, b := range bs {
				if b.SeenHash == "" {
					t.Errorf("%s %s: no seen hash after a create", s.name, b.ERPKey)
				}
				b.SeenHash = ""
				if _, err := tx.PutBinding(s.name, b); err != nil {
					return err
				}
			}
			bound[s.name] = len(bs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if bound[mapping.PlatformONe] == 0 || bound[mapping.PlatformCustomerAPI] == 0 {
		t.Fatalf("bindings %v", bound)
	}
	iw.one.Faults().ResetCounts()
	iw.capi.Faults().ResetCounts()
	settle(resync)
	if n := iw.one.Faults().Count("getClient"); n != int64(bound[mapping.PlatformONe]) {
		t.Errorf("ONe: %d clients read, want each of the %d bound once", n, bound[mapping.PlatformONe])
	}
	if n := iw.capi.Faults().Count("getOrganisation"); n != int64(bound[mapping.PlatformCustomerAPI]) {
		t.Errorf("Customer API: %d organisations read, want each of the %d bound once", n, bound[mapping.PlatformCustomerAPI])
	}
	if n := iw.one.Faults().Count("updateClient") + iw.capi.Faults().Count("updateOrganisation"); n != 0 {
		t.Errorf("%d updates after reading unchanged records", n)
	}
	iw.one.Faults().ResetCounts()
	iw.capi.Faults().ResetCounts()
	settle(resync)
	if n := iw.one.Faults().Count("getClient") + iw.capi.Faults().Count("getOrganisation"); n != 0 {
		t.Errorf("%d records read by the resync after", n)
	}
}

// TestListingPageOlderThanTheBinding: a listed record whose content the
// listing did not read (no Seen: it was not bound when listed) is pulled,
// unless the connector wrote its binding, with a Seen, after the page's
// read began.
func TestListingPageOlderThanTheBinding(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	s := c.site(mapping.PlatformCustomerAPI)
	var before, after time.Time
	err := c.state.Update(ctx, func(tx *state.Tx) error {
		before = time.Now()
		for _, b := range []state.Binding{
			{ERPKey: "K1", ID: "id-1", SeenHash: "sha256:1"},
			{ERPKey: "K2", ID: "id-2"},
		} {
			if _, err := tx.PutBinding(s.name, b); err != nil {
				return err
			}
		}
		after = time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := platform.Page{Records: []platform.Record{{Ref: platform.Ref{ID: "id-1"}}, {Ref: platform.Ref{ID: "id-2"}}}}
	for _, tc := range []struct {
		name  string
		began time.Time
		want  int
	}{
		{"page read before the bindings", before.Add(-time.Second), 1}, // id-2 has no Seen to go by
		{"page read after the bindings", after.Add(time.Second), 2},
	} {
		var l listed
		if err := c.state.View(ctx, func(tx *state.Tx) error {
			var err error
			l, err = planListed(tx, s, listing{Page: page, began: tc.began}, walkOpts{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(l.jobs) != tc.want {
			t.Errorf("%s: %d pulls, want %d", tc.name, len(l.jobs), tc.want)
		}
	}
}

// TestListingPageAskedBeforeTheBindingCommitted: a binding is stamped when
// its transaction runs, and seen by others only once it commits. A page
// whose read began between the two, and whose platform asked about the
// record before the commit (the Customer API then reads no farm for it and
// gives it no Seen), holds an older view than the binding: no pull. Once
// the platform was told of the binding as it is, a differing Seen is a
// change (pulled).
func TestListingPageAskedBeforeTheBindingCommitted(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	for _, s := range c.sites {
		var b state.Binding
		err := c.state.Update(ctx, func(tx *state.Tx) error {
			var err error
			b, err = tx.PutBinding(s.name, state.Binding{ERPKey: "K-" + string(s.name), ID: "id-" + string(s.name), SeenHash: "sha256:1"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		began := b.Updated.Add(time.Millisecond) // the stamp came before the read began
		for _, tc := range []struct {
			name  string
			asked map[string]uint64
			want  int
		}{
			{"asked while unbound", map[string]uint64{b.ID: 0}, 0},
			{"asked at an older version", map[string]uint64{b.ID: b.Version - 1}, 0},
			{"asked at this version", map[string]uint64{b.ID: b.Version}, 1},
			{"not asked", nil, 1},
		} {
			page := listing{Page: platform.Page{Records: []platform.Record{{Ref: platform.Ref{ID: b.ID}}}}, began: began, asked: tc.asked}
			var l listed
			if err := c.state.View(ctx, func(tx *state.Tx) error {
				var err error
				l, err = planListed(tx, s, page, walkOpts{lane: queue.LaneLive})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(l.jobs) != tc.want {
				t.Errorf("%s, %s: %d pulls, want %d", s.name, tc.name, len(l.jobs), tc.want)
			}
		}
	}
}
