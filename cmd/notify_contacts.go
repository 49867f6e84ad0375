package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/protos"
)

// Where the notification service's messages go (docs/NOTIFICATIONS.md, Contacts): a hold's
// own contact, read from the hold's owner and opened with the data key ring at send time,
// else the user's, from the claims of the tokens the edge verified (onPrincipal). Neither is
// ever logged.

// onPrincipal is the edge's api.Config.OnPrincipal while notifications are on (nil when
// off): a state-changing request's verified token that carries email or phone_number claims
// records them as the user's contact before the request is handled, so that the contact is
// stored before any hold the request places. The book writes only when the contact changed
// (or every 10 minutes): the common path is a digest and a map lookup
// (BenchmarkRememberUnchanged). A failure to store is logged without the contact and does
// not refuse the request.
func (n *nodeNotify) onPrincipal() func(context.Context, *auth.Principal) {
	if n.book == nil {
		return nil
	}
	book, log := n.book, n.log
	return func(ctx context.Context, p *auth.Principal) {
		if p.Email == "" && p.Phone == "" {
			return
		}
		if err := book.Remember(ctx, p.Subject, notify.Contact{Email: p.Email, Phone: p.Phone}); err != nil {
			log("notifications: the contact of a user was not stored", "err", err)
		}
	}
}

// ownerHoldContacts is notify.HoldContacts over the holds' owners: the hold read with
// GetHold through the Dispatcher, as the edge reads it, and its sealed contact opened with
// the ring the edge sealed it with, bound to the hold's resource and user.
type ownerHoldContacts struct {
	d api.Dispatcher
	// sealer is the edge's ring (api.Config.Contacts); nil when the node accepts no contacts.
	sealer  api.ContactSealer
	timeout time.Duration
	now     func() time.Time
}

func (o ownerHoldContacts) HoldContact(ctx context.Context, resourceID, holdID, userID string) (notify.Contact, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	reply, err := o.d.Dispatch(ctx, &protos.Command{ResourceId: resourceID, DeadlineUnixMs: o.now().Add(o.timeout).UnixMilli(),
		Op: &protos.Command_GetHold{GetHold: &protos.GetHold{HoldId: holdID}}})
	switch {
	case err != nil:
		return notify.Contact{}, fmt.Errorf("read hold: %w", err)
	case reply.GetError() != nil && reply.GetError().GetCode() == booking.CodeNotFound:
		return notify.Contact{}, nil // gone with its resource: the user's contact it is
	case reply.GetError() != nil:
		return notify.Contact{}, fmt.Errorf("read hold %s: %s", holdID, reply.GetError().GetMessage())
	case reply.GetHold() == nil:
		return notify.Contact{}, fmt.Errorf("read hold %s: no hold in the reply", holdID)
	}
	sealed := reply.GetHold().GetContact()
	if len(sealed) == 0 {
		return notify.Contact{}, nil
	}
	if o.sealer == nil {
		// Not the user's contact instead: the message is for whoever the hold names.
		return notify.Contact{}, errors.New("hold contact: the hold carries one and this node has no data key ring (--data-key-file)")
	}
	c, err := o.sealer.OpenContact(sealed, resourceID, userID)
	if err != nil {
		return notify.Contact{}, fmt.Errorf("hold contact: %w", err) // pii errors carry no plaintext
	}
	return notify.Contact{Email: c.Email, Phone: e164(c.Phone)}, nil
}

// e164 drops the separators a hold's contact may hold in its phone number (api/contact.go
// accepts space - . ( )): "+49 151 2345-678" becomes "+491512345678", as the SMS provider
// wants it.
func e164(phone string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, phone)
}
