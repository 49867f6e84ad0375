package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/protos"
)

// holdsOwner answers GetHold from a table, as a hold's owner does; other holds are not found.
type holdsOwner map[string]*protos.Hold

func (o holdsOwner) Dispatch(_ context.Context, cmd *protos.Command) (*protos.Reply, error) {
	id := cmd.GetGetHold().GetHoldId()
	if id == "down" {
		return nil, errors.New("owner unreachable")
	}
	if h, ok := o[id]; ok {
		return &protos.Reply{Hold: h}, nil
	}
	return &protos.Reply{Error: &protos.Error{Code: booking.CodeNotFound, Message: "hold not found"}}, nil
}

// TestOwnerHoldContact: the hold's sealed contact opens for its resource and user, with the
// phone number's separators dropped; a hold without a contact, or gone, gives none; an
// unreachable owner, a contact sealed for another user and a node without a ring are errors
// that quote nothing of the contact.
func TestOwnerHoldContact(t *testing.T) {
	ring, err := pii.LoadKeyring(writeDataKey(t))
	if err != nil {
		t.Fatal(err)
	}
	guest := pii.Contact{Name: "Gina Guest", Email: "guest@example.org", Phone: "+49 (151) 2345-678"}
	sealed, err := ring.SealContact(guest, "hotel-1", "u-1")
	if err != nil {
		t.Fatal(err)
	}
	owner := holdsOwner{
		"h-guest": {Id: "h-guest", UserId: "u-1", Contact: sealed},
		"h-own":   {Id: "h-own", UserId: "u-1"},
	}
	o := ownerHoldContacts{d: owner, sealer: ring, timeout: time.Second, now: time.Now}
	ctx := context.Background()
	if c, err := o.HoldContact(ctx, "hotel-1", "h-guest", "u-1"); err != nil || c != (notify.Contact{Email: "guest@example.org", Phone: "+491512345678"}) {
		t.Fatalf("guest's hold: %+v %v", c, err)
	}
	for _, h := range []string{"h-own", "h-gone"} {
		if c, err := o.HoldContact(ctx, "hotel-1", h, "u-1"); err != nil || c != (notify.Contact{}) {
			t.Fatalf("%s: %+v %v, want no contact", h, c, err)
		}
	}
	for name, try := range map[string]func() (notify.Contact, error){
		"owner down":   func() (notify.Contact, error) { return o.HoldContact(ctx, "hotel-1", "down", "u-1") },
		"another user": func() (notify.Contact, error) { return o.HoldContact(ctx, "hotel-1", "h-guest", "u-2") },
		"no ring": func() (notify.Contact, error) {
			return ownerHoldContacts{d: owner, timeout: time.Second, now: time.Now}.HoldContact(ctx, "hotel-1", "h-guest", "u-1")
		},
	} {
		c, err := try()
		if err == nil || c != (notify.Contact{}) || strings.Contains(err.Error(), "guest") || strings.Contains(err.Error(), "2345") {
			t.Errorf("%s: %+v %v, want an error quoting nothing", name, c, err)
		}
	}
}
