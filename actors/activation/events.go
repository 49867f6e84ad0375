package activation

import (
	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// batchEvents derives the events of a commit as version from its decisions: one per booking
// event but waitlist joins and leaves, in decision order, with the after-image the decision
// captured; then one bucket.sold_out or bucket.available per bucket whose availability crossed
// 0 between the state before the commit (committed plus the commits at the store, see
// bucketBefore) and its
// last image in the commit (after, the merged Write.Buckets). A bucket that sold out and came
// back within one commit crossed nothing. New buckets (a creation, an update adding a key) are
// described by their resource event, not by a crossing.
//
// The events share the decisions' after-images, which nothing changes once captured.
func (c *Core) batchEvents(ds []*decision, version uint64, after []booking.Bucket) []events.Event {
	n := 0
	for _, d := range ds {
		n += len(d.events)
	}
	out := make([]events.Event, 0, n)
	rid := c.id
	var last events.Event
	for _, d := range ds {
		hi := 0 // d.holds holds the hold images capture took, in event order
		image := func(id string) *booking.Hold {
			for ; hi < len(d.holds); hi++ {
				if d.holds[hi].ID == id {
					hi++
					return &d.holds[hi-1]
				}
			}
			return nil
		}
		// peek finds the image the next image(id) returns, leaving it for that call: an
		// offer shares the image of the hold.placed that follows it.
		peek := func(id string) *booking.Hold {
			for j := hi; j < len(d.holds); j++ {
				if d.holds[j].ID == id {
					return &d.holds[j]
				}
			}
			return nil
		}
		for _, ev := range d.events {
			e := events.Event{ResourceID: rid, Version: version, Index: len(out)}
			switch ev := ev.(type) {
			case booking.ResourceCreated:
				e.Type, e.Resource, e.Buckets = events.ResourceCreated, d.res, d.buckets
				e.OccurredAt = ev.Resource.CreatedAt
			case booking.ResourceUpdated:
				e.Type, e.Resource, e.Buckets = events.ResourceUpdated, d.res, d.buckets
				e.OccurredAt = ev.At
			case booking.HoldPlaced:
				e.Type, e.OccurredAt, e.Hold = events.HoldPlaced, ev.Hold.CreatedAt, image(ev.Hold.ID)
			case booking.HoldConfirmed:
				e.Type, e.OccurredAt, e.Hold = events.HoldConfirmed, ev.At, image(ev.HoldID)
			case booking.HoldCancelled:
				e.Type, e.OccurredAt, e.Hold = events.HoldCancelled, ev.At, image(ev.HoldID)
			case booking.HoldExpired:
				e.Type, e.OccurredAt, e.Hold = events.HoldExpired, ev.At, image(ev.HoldID)
			case booking.HoldExtended:
				e.Type, e.OccurredAt, e.Hold = events.HoldExtended, ev.At, image(ev.HoldID)
			case booking.HoldRetaken: // payment.go: a late payment confirms an ended hold
				e.Type, e.OccurredAt, e.Hold = events.HoldConfirmed, ev.At, image(ev.HoldID)
			case booking.PaymentRecorded: // payment.go
				for _, pe := range paymentEvents(ev, e, image(ev.HoldID)) {
					pe.Index = len(out)
					out = append(out, pe)
					last = pe
				}
				continue
			case booking.WaitlistOffered:
				e.Type, e.OccurredAt, e.Hold = events.WaitlistOffered, ev.At, peek(ev.HoldID)
			default:
				continue // joining and leaving a waitlist are not in the catalogue
			}
			if e.Resource == nil {
				if e.Hold == nil {
					continue // capture took no image of this hold: nothing to describe it with
				}
				e.Subject = e.Hold.UserID
			}
			out = append(out, e)
			last = e
		}
	}
	for i := range after {
		b := &after[i]
		before, ok := c.bucketBefore(b.Key)
		if !ok {
			continue
		}
		var t events.Type
		switch was, is := before.Available() > 0, b.Available() > 0; {
		case was && !is:
			t = events.BucketSoldOut
		case !was && is:
			t = events.BucketAvailable
		default:
			continue
		}
		img := *b
		out = append(out, events.Event{Type: t, ResourceID: rid, Version: version, Index: len(out),
			OccurredAt: last.OccurredAt, Bucket: &img})
	}
	return out
}

// bucketBefore is a bucket as the store will hold it before the commit being sealed: its last
// image in the commits at the store, which apply first, or else committed.
func (c *Core) bucketBefore(key string) (booking.Bucket, bool) {
	for i := len(c.flights) - 1; i >= 0; i-- {
		bs := c.flights[i].buckets
		for j := len(bs) - 1; j >= 0; j-- {
			if bs[j].Key == key {
				return bs[j], true
			}
		}
	}
	return c.committed.Bucket(key)
}
