package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// TestRulesAgainstTheRealNode: a stay by date range, a renewal, the waitlist and its offer,
// and the search, through the client against the real program. The walk's client is the
// front desk (an operator); u-1 and u-2 act with their own tokens.
func TestRulesAgainstTheRealNode(t *testing.T) {
	c, m := mustNode(t)
	ctx := context.Background()
	as := func(user string) *client.Client {
		return c.With(client.WithTokenSource(m.DevIssuer().TokenSource(auth.TokenSpec{Subject: user})))
	}
	u1, u2 := as("u-1"), as("u-2")
	maxExt := 1
	if _, _, err := c.CreateResource(ctx, wire.CreateResource{ID: "inn", Name: "Harbour Inn", Timezone: "Europe/Lisbon",
		Calendar: &wire.Calendar{From: "2026-12-20", To: "2026-12-31", Every: "24h", Capacity: 1}, MaxExtensions: &maxExt}); err != nil {
		t.Fatal(err)
	}
	h, _, err := u1.PlaceHold(ctx, "inn", "k-1", wire.PlaceHold{From: "2026-12-24", To: "2026-12-27", Quantity: 1})
	if err != nil || len(h.Buckets) != 3 || h.UserID != "u-1" {
		t.Fatalf("stay: %+v %v", h, err)
	}
	var e *client.Error
	if _, _, err := u2.ExtendHold(ctx, "inn", h.ID); !errors.As(err, &e) || e.Problem.Code != "not_found" {
		t.Fatalf("u-2 renews u-1's hold: %v", err)
	}
	if _, _, err := u2.ExtendHoldFor(ctx, "inn", h.ID, "u-1"); !errors.As(err, &e) || e.Problem.Code != "forbidden" {
		t.Fatalf("u-2 names u-1: %v", err)
	}
	if h, _, err = u1.ExtendHoldKey(ctx, "inn", h.ID, "", "x-1"); err != nil || h.Extensions != 1 {
		t.Fatalf("renewal: %+v %v", h, err)
	}
	// Retried with its key after it used the last extension: the hold, replayed, not renewed.
	if again, info, err := u1.ExtendHoldKey(ctx, "inn", h.ID, "", "x-1"); err != nil || !info.Replayed || again.Extensions != 1 ||
		!again.ExpiresAt.Equal(*h.ExpiresAt) {
		t.Fatalf("renewal retried with its key: %+v %+v %v", again, info, err)
	}
	if _, _, err := c.ExtendHoldFor(ctx, "inn", h.ID, "u-1"); !errors.As(err, &e) || e.Problem.Code != "limit_exceeded" {
		t.Fatalf("second renewal, by the front desk: %v", err)
	}
	join := wire.JoinWaitlist{From: "2026-12-25", To: "2026-12-26", Quantity: 1}
	w, info, err := u2.JoinWaitlistKey(ctx, "inn", "j-1", join)
	if err != nil || w.Position != 1 || w.UserID != "u-2" || info.Replayed {
		t.Fatalf("join: %+v %+v %v", w, info, err)
	}
	if again, info, err := u2.JoinWaitlistKey(ctx, "inn", "j-1", join); err != nil || again.ID != w.ID || !info.Replayed {
		t.Fatalf("join retried with its key: %+v %+v %v", again, info, err)
	}
	mine, _, err := u2.MyWaitlist(ctx)
	if err != nil || len(mine.Entries) != 1 || mine.Entries[0].ID != w.ID {
		t.Fatalf("my waitlist: %+v %v", mine, err)
	}
	if theirs, _, err := c.WaitlistOf(ctx, "u-2"); err != nil || len(theirs.Entries) != 1 || theirs.Entries[0].ID != w.ID {
		t.Fatalf("u-2's waitlist, read by the front desk: %+v %v", theirs, err)
	}
	if _, _, err := u1.LeaveWaitlist(ctx, "inn", w.ID); !errors.As(err, &e) || e.Problem.Code != "not_found" {
		t.Fatalf("u-1 leaves u-2's entry: %v", err)
	}
	if _, _, err := u1.CancelHold(ctx, "inn", h.ID); err != nil {
		t.Fatal(err)
	}
	offer, _, err := u2.GetHold(ctx, "inn", w.OfferHoldID)
	if err != nil || offer.Status != wire.HoldHeld || offer.UserID != "u-2" || offer.WaitlistEntryID != w.ID {
		t.Fatalf("offer: %+v %v", offer, err)
	}
	if again, info, err := u2.JoinWaitlistKey(ctx, "inn", "j-1", join); err != nil || again.ID != w.ID || again.OfferHoldID != offer.ID ||
		again.Position != 0 || !info.Replayed {
		t.Fatalf("join retried after its offer: %+v %+v %v", again, info, err)
	}
	list, _, err := c.Resources(ctx, client.ResourceQuery{Name: "harbour", From: "2026-12-24", To: "2026-12-25"})
	if err != nil || len(list.Resources) != 1 || list.Resources[0].ID != "inn" {
		t.Fatalf("search: %+v %v", list, err)
	}
	if list, _, err = c.Resources(ctx, client.ResourceQuery{From: "2026-12-25", To: "2026-12-26"}); err != nil || len(list.Resources) != 0 {
		t.Fatalf("search a taken night: %+v %v", list, err)
	}
	if _, _, err := c.CreateResource(ctx, wire.CreateResource{ID: "barn", Name: "Barn", Buckets: map[string]int64{"all": 1},
		Tags: []string{"rural"}, Location: "Minho"}); err != nil {
		t.Fatal(err)
	}
	if list, _, err = c.Resources(ctx, client.ResourceQuery{Tag: "rural"}); err != nil || len(list.Resources) != 1 {
		t.Fatalf("search by tag: %+v %v", list, err)
	}
	if r, _, err := c.ArchiveResource(ctx, "barn"); err != nil || r.ArchivedAt == nil {
		t.Fatalf("archive: %+v %v", r, err)
	}
	if list, _, err = c.Resources(ctx, client.ResourceQuery{Tag: "rural"}); err != nil || len(list.Resources) != 0 {
		t.Fatalf("an archived resource is listed: %+v %v", list, err)
	}
}
