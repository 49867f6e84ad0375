package reports

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/wire"
)

// Event types the rollups count. hold.refunded is emitted by the payments work (issue 14);
// until it is merged nothing sends it, and it is counted when it arrives.
const (
	TypeResourceCreated = "resource.created"
	TypeResourceUpdated = "resource.updated"
	TypeHoldPlaced      = "hold.placed"
	TypeHoldConfirmed   = "hold.confirmed"
	TypeHoldCancelled   = "hold.cancelled"
	TypeHoldExpired     = "hold.expired"
	TypeHoldRefunded    = "hold.refunded"
)

// Resource is what the rollups know of a resource: its name, time zone (IANA name, "" for
// UTC) and unit price, from its resource.* events.
type Resource struct {
	ID       string
	Name     string
	TimeZone string
	Price    wire.Money
}

// Location returns the resource's time zone, UTC when it has none or an unknown one.
func (r Resource) Location() *time.Location {
	if r.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Key names one rollup row.
type Key struct {
	ResourceID string
	Bucket     string
	DayUTC     string // YYYY-MM-DD
	DayLocal   string // YYYY-MM-DD in the resource's time zone
	Currency   string
}

// Counters are the additive measures of a rollup row. Units are quantity x number of buckets
// (unit-nights for a stay); amounts are minor units of the row's currency.
type Counters struct {
	Placed, Confirmed, Cancelled, Expired, Refunded int64
	UnitsPlaced, UnitsConfirmed                     int64
	Gross, RefundedAmount                           int64
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.Placed += o.Placed
	c.Confirmed += o.Confirmed
	c.Cancelled += o.Cancelled
	c.Expired += o.Expired
	c.Refunded += o.Refunded
	c.UnitsPlaced += o.UnitsPlaced
	c.UnitsConfirmed += o.UnitsConfirmed
	c.Gross += o.Gross
	c.RefundedAmount += o.RefundedAmount
}

// Delta is what one event adds. Resource, when set, replaces what is known of the resource.
// Row is set for hold events; Hour for placements; Lead for confirmations.
type Delta struct {
	Resource *Resource
	Row      *Key
	Counters Counters
	Hour     *HourKey
	Lead     *LeadKey
}

// HourKey names one peak-hours cell.
type HourKey struct {
	ResourceID         string
	DayUTC, DayLocal   string
	HourUTC, HourLocal int
}

// LeadKey names one lead-time cell.
type LeadKey struct {
	ResourceID       string
	DayUTC, DayLocal string
	Class            string
}

// LeadClasses are the lead time classes, shortest first: the time from confirmation to the
// start of the hold's first bucket, when that bucket is named by a date (YYYY-MM-DD, read in
// the resource's time zone) or an RFC 3339 time; "unknown" otherwise ("all", a seat number).
var LeadClasses = []string{"same_day", "1-7d", "8-30d", "31-90d", "91d+", "unknown"}

func leadClass(from, to time.Time, ok bool) string {
	if !ok {
		return "unknown"
	}
	d := to.Sub(from)
	switch {
	case d < 24*time.Hour:
		return "same_day"
	case d <= 7*24*time.Hour:
		return "1-7d"
	case d <= 30*24*time.Hour:
		return "8-30d"
	case d <= 90*24*time.Hour:
		return "31-90d"
	}
	return "91d+"
}

// bucketStart reads a bucket name as a start time.
func bucketStart(name string, loc *time.Location) (time.Time, bool) {
	if t, err := time.ParseInLocation("2006-01-02", name, loc); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, name); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// holdData is the part of a hold event's after-image the rollups read. Refund, when a
// hold.refunded event carries it, is the amount refunded; without it the whole price is.
type holdData struct {
	ID       string      `json:"id"`
	Buckets  []string    `json:"buckets"`
	Quantity int64       `json:"quantity"`
	Refund   *wire.Money `json:"refund,omitempty"`
}

// resourceData is the part of a resource event's after-image the rollups read.
type resourceData struct {
	Name     string      `json:"name"`
	Price    *wire.Money `json:"price,omitempty"`
	TimeZone string      `json:"timezone"`
	TZ       string      `json:"time_zone"`
}

// Derive returns what ev adds to the rollups, given what is known of its resource (the zero
// Resource when nothing is). Event types the rollups do not count give an empty Delta; a
// counted event whose data does not decode is an error (the consumer asks for it again, and
// an operator sees it in the log). Pure: no I/O, no clock.
func Derive(ev feed.Event, r Resource) (Delta, error) {
	p, err := parseEvent(ev)
	if err != nil {
		return Delta{}, err
	}
	return deriveParsed(ev, p, r)
}

// parsedEvent is the part of an event's data Derive reads, decoded (parseEvent): decoding
// needs no resource state, so a batch decodes its events before it takes the writer
// (SQLStore.ApplyBatch), where the JSON decoding was half of the reports' time.
type parsedEvent struct {
	resource *resourceData
	hold     *holdData
}

// parseEvent decodes ev's data for Derive: nothing for types the rollups do not count, an
// ErrBadEvent for data that does not decode.
func parseEvent(ev feed.Event) (parsedEvent, error) {
	switch ev.Type {
	case TypeResourceCreated, TypeResourceUpdated:
		var d resourceData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return parsedEvent{}, fmt.Errorf("%w: %s %s: %w", ErrBadEvent, ev.Type, ev.ID, err)
		}
		return parsedEvent{resource: &d}, nil
	case TypeHoldPlaced, TypeHoldConfirmed, TypeHoldCancelled, TypeHoldExpired, TypeHoldRefunded:
		var h holdData
		if err := json.Unmarshal(ev.Data, &h); err != nil {
			return parsedEvent{}, fmt.Errorf("%w: %s %s: %w", ErrBadEvent, ev.Type, ev.ID, err)
		}
		return parsedEvent{hold: &h}, nil
	}
	return parsedEvent{}, nil
}

// deriveParsed is Derive for an event parseEvent decoded as p.
func deriveParsed(ev feed.Event, p parsedEvent, r Resource) (Delta, error) {
	switch ev.Type {
	case TypeResourceCreated, TypeResourceUpdated:
		d := *p.resource
		nr := Resource{ID: ev.ResourceID, Name: d.Name, TimeZone: d.TimeZone, Price: r.Price}
		if nr.TimeZone == "" {
			nr.TimeZone = d.TZ
		}
		if d.Price != nil {
			nr.Price = *d.Price
		}
		return Delta{Resource: &nr}, nil
	case TypeHoldPlaced, TypeHoldConfirmed, TypeHoldCancelled, TypeHoldExpired, TypeHoldRefunded:
	default:
		return Delta{}, nil
	}
	h := *p.hold
	if len(h.Buckets) == 0 || h.Quantity <= 0 {
		return Delta{}, fmt.Errorf("%w: %s %s: a hold needs buckets and a positive quantity", ErrBadEvent, ev.Type, ev.ID)
	}
	loc := r.Location()
	at := ev.OccurredAt
	dayUTC, dayLocal := at.UTC().Format(time.DateOnly), at.In(loc).Format(time.DateOnly)
	units := h.Quantity * int64(len(h.Buckets))
	price := r.Price.Amount * units
	key := Key{ResourceID: ev.ResourceID, Bucket: h.Buckets[0], DayUTC: dayUTC, DayLocal: dayLocal, Currency: r.Price.Currency}
	d := Delta{Row: &key}
	switch ev.Type {
	case TypeHoldPlaced:
		d.Counters = Counters{Placed: 1, UnitsPlaced: units}
		d.Hour = &HourKey{ResourceID: ev.ResourceID, DayUTC: dayUTC, DayLocal: dayLocal,
			HourUTC: at.UTC().Hour(), HourLocal: at.In(loc).Hour()}
	case TypeHoldConfirmed:
		d.Counters = Counters{Confirmed: 1, UnitsConfirmed: units, Gross: price}
		start, ok := bucketStart(h.Buckets[0], loc)
		d.Lead = &LeadKey{ResourceID: ev.ResourceID, DayUTC: dayUTC, DayLocal: dayLocal, Class: leadClass(at, start, ok)}
	case TypeHoldCancelled:
		d.Counters = Counters{Cancelled: 1}
	case TypeHoldExpired:
		d.Counters = Counters{Expired: 1}
	case TypeHoldRefunded:
		d.Counters = Counters{Refunded: 1, RefundedAmount: price}
		if h.Refund != nil {
			d.Counters.RefundedAmount = h.Refund.Amount
			key.Currency = h.Refund.Currency
		}
	}
	return d, nil
}
