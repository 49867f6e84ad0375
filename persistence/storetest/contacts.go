package storetest

import (
	"bytes"
	"strings"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// contactStore returns the store as a persistence.ContactStore: every store must be one.
func (f *fixture) contactStore() persistence.ContactStore {
	f.Helper()
	cs, ok := f.s.(persistence.ContactStore)
	if !ok {
		f.Fatalf("%T is not a persistence.ContactStore", f.s)
	}
	return cs
}

// testContactRoundTrip: a hold's sealed contact is stored with it and read back by GetHold,
// ListHolds and Activate; a hold without one reads nil; a later after-image (confirmed, with
// another contact or none) leaves the stored contact as it was first written.
func testContactRoundTrip(f *fixture) {
	r := f.id("r")
	f.create(r, booking.Bucket{Key: "a", Capacity: 10})
	u := f.id("u")
	with := hold(r, f.id("with"), u, 1, 1, "a")
	with.Contact = booking.SealedContact("\x01\x02k1\x00sealed\xffbytes")
	without := hold(r, f.id("without"), u, 2, 1, "a")
	f.commit(&persistence.Batch{ResourceID: r, Epoch: 1, Version: 2, Resource: f.resource(r), Holds: []booking.Hold{with, without}})
	f.expectHold(with)
	f.expectHold(without)
	list, err := f.s.ListHolds(f.ctx(), persistence.HoldFilter{ResourceID: r})
	if err != nil {
		f.Fatal(err)
	}
	if len(list) != 2 || !bytes.Equal(list[0].Contact, with.Contact) || list[1].Contact != nil {
		f.Fatalf("ListHolds contacts: %+v", list)
	}

	later := with
	later.Status, later.UpdatedAt = booking.StatusConfirmed, at(5)
	later.Contact = booking.SealedContact("another")
	later2 := without
	later2.Status, later2.UpdatedAt = booking.StatusConfirmed, at(6)
	later2.Contact = booking.SealedContact("late")
	f.commit(&persistence.Batch{ResourceID: r, Epoch: 1, Version: 3, Resource: f.resource(r), Holds: []booking.Hold{later, later2}})
	want := later
	want.Contact = with.Contact
	f.expectHold(want)
	want2 := later2
	want2.Contact = nil
	f.expectHold(want2)

	snap := f.activate(r, base)
	for _, h := range snap.Holds {
		if h.ID == with.ID && !bytes.Equal(h.Contact, with.Contact) {
			f.Fatalf("Activate: contact %q", h.Contact)
		}
	}
}

// testContactRekey: Contacts pages through the stored contacts by id; ReplaceContact sets one
// only while it is still the one the caller read, and a later after-image keeps the new one.
func testContactRekey(f *fixture) {
	cs := f.contactStore()
	r := f.id("r")
	f.create(r, booking.Bucket{Key: "a", Capacity: 10})
	var hs []booking.Hold
	for i, name := range []string{"h3", "h1", "h2", "none"} {
		h := hold(r, f.id(name), f.id("u"), int64(i), 1, "a")
		if name != "none" {
			h.Contact = booking.SealedContact("old-" + name)
		}
		hs = append(hs, h)
	}
	f.commit(&persistence.Batch{ResourceID: r, Epoch: 1, Version: 2, Resource: f.resource(r), Holds: hs})

	// Page through everything after the prefix two at a time (a shared database may hold
	// other runs' contacts; keep ours).
	var got []persistence.StoredContact
	after := f.prefix
	for {
		page, err := cs.Contacts(f.ctx(), after, 2)
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range page {
			if c.HoldID <= after {
				f.Fatalf("Contacts after %q returned %q", after, c.HoldID)
			}
			if strings.HasPrefix(c.HoldID, f.prefix+"-") {
				got = append(got, c)
			}
			after = c.HoldID
		}
		if len(page) < 2 {
			break
		}
	}
	if len(got) != 3 {
		f.Fatalf("Contacts: %d of ours, want 3: %+v", len(got), got)
	}
	for i, name := range []string{"h1", "h2", "h3"} {
		c := got[i]
		if c.HoldID != f.id(name) || c.ResourceID != r || c.UserID != f.id("u") || string(c.Contact) != "old-"+name {
			f.Fatalf("Contacts[%d] = %+v", i, c)
		}
	}
	if _, err := cs.Contacts(f.ctx(), "", 0); err == nil {
		f.Fatal("Contacts with limit 0 succeeded")
	}

	h1 := f.id("h1")
	if ok, err := cs.ReplaceContact(f.ctx(), h1, booking.SealedContact("stale"), booking.SealedContact("new")); err != nil || ok {
		f.Fatalf("ReplaceContact with a stale prev: %v, %v", ok, err)
	}
	if ok, err := cs.ReplaceContact(f.ctx(), f.id("missing"), booking.SealedContact("old-h1"), booking.SealedContact("new")); err != nil || ok {
		f.Fatalf("ReplaceContact of a missing hold: %v, %v", ok, err)
	}
	if ok, err := cs.ReplaceContact(f.ctx(), f.id("none"), nil, booking.SealedContact("new")); err != nil || ok {
		f.Fatalf("ReplaceContact of a hold without a contact: %v, %v", ok, err)
	}
	if ok, err := cs.ReplaceContact(f.ctx(), h1, booking.SealedContact("old-h1"), booking.SealedContact("new-h1")); err != nil || !ok {
		f.Fatalf("ReplaceContact: %v, %v", ok, err)
	}
	want := hs[1]
	want.Contact = booking.SealedContact("new-h1")
	f.expectHold(want)
	none := hs[3]
	f.expectHold(none)

	// The actor still holds the old contact in memory; its next after-image must not undo the
	// re-sealing.
	after1 := hs[1]
	after1.Status, after1.UpdatedAt = booking.StatusCancelled, at(9)
	f.commit(&persistence.Batch{ResourceID: r, Epoch: 1, Version: 3, Resource: f.resource(r), Holds: []booking.Hold{after1}})
	want = after1
	want.Contact = booking.SealedContact("new-h1")
	f.expectHold(want)
}
