package connector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// blockOnPlatform makes the platform refuse r for a reason that is fixed
// on the platform, not in the ERP (ONe: an account manager it does not
// know yet; the Customer API: an owner e-mail another organisation's user
// holds), and returns the fix.
func blockOnPlatform(t *testing.T, w *world, h harness, r *erpgen.Record) (fix func()) {
	t.Helper()
	if h.platform == mapping.PlatformONe {
		r.Set("account_manager", "mgr-joins-later")
		return func() {
			if err := w.one.AddAccountManager(tenant, oneapi.AccountManager{ID: "mgr-joins-later", Name: "Joins Later", Email: "later@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	email := "leaver@" + strings.ToLower(r.Key) + ".example.co.uk"
	_, org, err := w.srv.AddUser(customerapitest.UserSpec{Email: email, Password: "Leaver-pass-1"})
	if err != nil {
		t.Fatal(err)
	}
	r.Set("admin_email", email)
	return func() {
		if err := w.srv.DeleteOrganisation(org); err != nil {
			t.Fatal(err)
		}
	}
}

// A record the platform refused is tried again by itself (after
// queue.heal_after, then twice as long each time), keeping one dead letter
// with its history while it is still refused; once the platform side is
// fixed it goes through with no operator and no ERP change, and its dead
// letter is gone. A record our own checks rejected is not tried again.
func TestRefusedRecordsHealByThemselves(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		const healAfter = 50 * time.Millisecond
		w := h.world(t, worldOpts{noStart: true, configure: func(c *connector.Config) { c.Queue.HealAfter = healAfter }})
		var picked []erpgen.Record
		for _, r := range erpgen.New(erpgen.Options{Seed: 31}).Records(40) {
			if h.wants(r) && r.Invalid == "" && !r.Deleted && len(picked) < 2 {
				picked = append(picked, r)
			}
		}
		uniqueOnPlatform(picked)
		blocked, invalid := &picked[0], &picked[1]
		fix := blockOnPlatform(t, w, h, blocked)
		spoiled := erpgen.New(erpgen.Options{Seed: 6, InvalidEvery: 1, Kinds: []erpgen.Invalid{h.invalid}}).Records(1)[0]
		spoiled.Key = invalid.Key
		spoiled.SyncONe, spoiled.SyncCustomerAPI = invalid.SyncONe, invalid.SyncCustomerAPI
		w.put(*blocked, spoiled)
		w.start()
		w.sync()
		dead := deadLetters(t, w, h)
		if len(dead) != 2 {
			t.Fatalf("dead letters %+v, want 2\n%s", dead, w.logLines())
		}
		// Still refused: tried again after the wait, one dead letter with
		// the history of both refusals.
		time.Sleep(healAfter)
		w.sync()
		var tries int
		for _, d := range deadLetters(t, w, h) {
			if strings.HasSuffix(d.Key, ":"+blocked.Key) {
				tries = len(d.History)
				if d.Heals != 1 || d.HealAt.IsZero() {
					t.Fatalf("refused record: heals %d, next try %v: %s", d.Heals, d.HealAt, d.LastError)
				}
			} else if d.Heals != 0 || !d.HealAt.IsZero() {
				t.Fatalf("invalid record %s tried by itself: %+v", d.Key, d)
			}
		}
		if n := len(deadLetters(t, w, h)); n != 2 || tries < 2 {
			t.Fatalf("after a refused try: %d dead letters, history %d", n, tries)
		}
		// Fixed on the platform: the next try goes through.
		fix()
		time.Sleep(2 * healAfter)
		w.sync()
		if h.id(w, blocked.Key) == "" {
			t.Fatalf("record fixed on the platform not delivered\n%s", w.logLines())
		}
		if dead := deadLetters(t, w, h); len(dead) != 1 || !strings.HasSuffix(dead[0].Key, ":"+invalid.Key) {
			t.Fatalf("dead letters left: %+v", dead)
		}
		if h.id(w, invalid.Key) != "" {
			t.Fatal("the invalid record reached the platform")
		}
	})
}
