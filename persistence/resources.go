package persistence

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
)

// ResourceFilter selects resources for a store's ListResources (each store has one; the caller
// that needs it, the HTTP API's GET /v1/resources, defines the interface). Resources come by
// ID, at most Limit, after the ID After (cursor pagination); archived ones are never listed.
type ResourceFilter struct {
	// Query keeps resources whose name contains it, ASCII letters compared case-insensitively;
	// "" keeps all.
	Query string
	// Keys, when set, keep resources that can take a hold of Quantity units on every one of
	// these buckets, as committed: each is a bucket of the resource with capacity + allowance
	// - held - confirmed >= Quantity (the nights of a stay: see booking.ExpandRange).
	Keys     []string
	Quantity int64
	// Span, when set, keeps resources with a slot calendar that can take a hold of Quantity
	// units on every slot of the span (see SlotSpan); with Keys as well, a resource matching
	// either is kept (a stay asked for by dates: nights of a daily resource, or every slot of
	// those days).
	Span *SlotSpan
	// Tag keeps resources with this tag; "" keeps all.
	Tag string
	// After is the last ID of the previous page; only greater IDs are listed.
	After string
	Limit int // 0 means 50; at most 200
}

// SlotSpan is a span of slots by wall-clock slot keys (YYYY-MM-DDTHH:MM, in each resource's
// own time zone, which is how its slot keys are written), From..To, To exclusive. A resource
// stepping by SlotEvery matches when the span is a whole number of its steps and each of its
// slot buckets in the span, as many as the steps and the first at From, has Quantity units to
// sell. Minutes is the
// span's wall-clock length (To - From as read on a clock), so a span across a spring DST
// change, whose skipped hour has no slot, matches no resource.
type SlotSpan struct {
	From, To string
	Minutes  int64
}

// MaxSpanMinutes bounds a SlotSpan: a year.
const MaxSpanMinutes = 366 * 24 * 60

// Millis is the span's length in milliseconds, as slot_every_ms is stored.
func (s *SlotSpan) Millis() int64 { return s.Minutes * 60_000 }

// Covers reports whether a resource stepping by every, with the slot keys in the span whose
// buckets have room (fit), matches the span: SlotSpan's rule, for stores that filter in Go.
func (s *SlotSpan) Covers(every time.Duration, keys []string, fit func(key string) bool) bool {
	if every <= 0 {
		return false
	}
	n, starts := int64(0), false
	for _, k := range keys {
		if len(k) == len(s.From) && k >= s.From && k < s.To {
			if !fit(k) {
				return false
			}
			n++
			starts = starts || k == s.From
		}
	}
	return starts && n*every.Milliseconds() == s.Millis()
}

// Normalize applies the defaults (Limit 50, Quantity 1, MinBuckets 1 with a range) and checks
// the filter.
func (f *ResourceFilter) Normalize() error {
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 0 || f.Limit > 200:
		return booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 200")
	}
	if f.Tag != "" && !booking.ValidTag(f.Tag) {
		return booking.Errorf(booking.CodeInvalid, "tag must be 1-%d lowercase letters, digits or '-'", booking.MaxTagLength)
	}
	if sp := f.Span; sp != nil {
		if len(sp.From) != len("2006-01-02T15:04") || len(sp.To) != len(sp.From) || sp.From >= sp.To ||
			sp.Minutes <= 0 || sp.Minutes > MaxSpanMinutes {
			return booking.Errorf(booking.CodeInvalid, "a slot span runs from a slot to a later slot (YYYY-MM-DDTHH:MM), at most %d days", MaxSpanMinutes/(24*60))
		}
	}
	if len(f.Keys) == 0 && f.Span == nil {
		if f.Quantity != 0 {
			return booking.Errorf(booking.CodeInvalid, "quantity needs an availability range")
		}
		return nil
	}
	if len(f.Keys) > 0 {
		if err := booking.ValidateHoldBuckets(f.Keys); err != nil {
			return err
		}
	}
	if f.Quantity == 0 {
		f.Quantity = 1
	}
	if f.Quantity < 0 || f.Quantity > booking.MaxQuantity {
		return booking.Errorf(booking.CodeInvalid, "quantity must be between 1 and %d", booking.MaxQuantity)
	}
	return nil
}

// NameMatches reports whether name contains q, ASCII letters compared case-insensitively (the
// Query rule, for stores that filter in Go).
func NameMatches(name, q string) bool {
	return strings.Contains(asciiLower(name), asciiLower(q))
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// LikePattern is the SQL LIKE pattern (with ESCAPE '\') of a name containing q; the SQL stores
// compare it with LOWER(name), so q is lowered like NameMatches does.
func LikePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(asciiLower(q)) + "%"
}

// ResourceColumns are the columns of a resource listing, as r, in this order (the rule
// columns of migration 0003 last).
const ResourceColumns = `r.id, r.name, r.price_amount, r.price_currency, r.hold_ttl_ms, r.created_at_ms, r.updated_at_ms,
 r.max_extensions, r.allowance_units, r.allowance_percent, r.max_per_user, r.timezone, r.slot_every_ms, r.waitlist_offer_ttl_ms,
 r.tags, r.location, r.archived_at_ms, r.refund_policy`

// ResourceListed is the SQL condition of the resources a listing shows: the active ones.
const ResourceListed = `r.archived_at_ms = 0`

// ResourceTagged is the SQL condition of ResourceFilter.Tag for resources r, given the
// placeholder of TagPattern(tag).
func ResourceTagged(p string) string { return `r.tags LIKE ` + p }

// TagPattern is the LIKE pattern of a tag inside a stored tag list: tags have no LIKE
// wildcards, quotes or backslashes (booking.ValidTag), so it matches exactly that tag.
func TagPattern(tag string) string { return `%"` + tag + `"%` }

// TagsJSON is the stored form of a resource's tags: a JSON array, "[]" for none.
func TagsJSON(tags []string) string {
	if len(tags) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(tags) // strings always marshal
	return string(b)
}

// ParseTags reads a stored tag list; none is nil.
func ParseTags(s string) ([]string, error) {
	var tags []string
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, fmt.Errorf("tag list %q: %w", s, err)
	}
	if len(tags) == 0 {
		return nil, nil
	}
	return tags, nil
}

// TimeMS is t in Unix milliseconds as stores keep optional instants: 0 for the zero time.
func TimeMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromTimeMS reads TimeMS back: 0 is the zero time.
func FromTimeMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ResourceAvailable is the SQL condition of ResourceFilter.Keys for resources r, given the
// placeholders of the keys (in), of Quantity (q) and of len(Keys) (n). Bucket keys are
// compared for equality only, so no collation is involved; the stored capacity is what may
// be sold (capacity plus allowance; see migration 0003).
func ResourceAvailable(in, q, n string) string {
	return `(SELECT COUNT(*) FROM buckets b WHERE b.resource_id = r.id AND b.bucket_key IN (` + in +
		`) AND b.capacity - b.held - b.confirmed >= ` + q + `) = ` + n
}

// ResourceSlotsAvailable is the SQL condition of ResourceFilter.Span for resources r, given
// the placeholders of the span's From and To, of Quantity (q) and of the span in milliseconds
// (ms). Slot keys have one length and sort as they read (digits and fixed separators), so a
// range comparison finds the slots of the span; every one of them must have room, the first
// must start the span (a span off the resource's grid is no hold it can take), and they must
// be as many as the resource's steps in the span (compared by multiplying: no integer
// division differs between PostgreSQL, CockroachDB and SQLite).
func ResourceSlotsAvailable(from, to, q, ms string) string {
	inSpan := `b.resource_id = r.id AND LENGTH(b.bucket_key) = 16 AND b.bucket_key >= ` + from + ` AND b.bucket_key < ` + to
	return `(r.slot_every_ms > 0 AND NOT EXISTS (SELECT 1 FROM buckets b WHERE ` + inSpan +
		` AND b.capacity - b.held - b.confirmed < ` + q + `) AND (SELECT COUNT(*) FROM buckets b WHERE ` + inSpan +
		`) * r.slot_every_ms = ` + ms + ` AND EXISTS (SELECT 1 FROM buckets b WHERE b.resource_id = r.id AND b.bucket_key = ` + from + `))`
}

// refundTierJSON is one stored tier of a cancellation policy (migration 0015).
type refundTierJSON struct {
	BeforeMS int64 `json:"before_ms"`
	Percent  int64 `json:"percent"`
}

// RefundsJSON is the stored form of a resource's cancellation policy: a JSON array of tiers
// in milliseconds, "" for none (the node's default applies).
func RefundsJSON(tiers []booking.RefundTier) string {
	if len(tiers) == 0 {
		return ""
	}
	out := make([]refundTierJSON, len(tiers))
	for i, t := range tiers {
		out[i] = refundTierJSON{BeforeMS: t.Before.Milliseconds(), Percent: t.Percent}
	}
	b, _ := json.Marshal(out) // integers always marshal
	return string(b)
}

// ParseRefunds reads a stored cancellation policy; "" (none) is nil.
func ParseRefunds(s string) ([]booking.RefundTier, error) {
	if s == "" {
		return nil, nil
	}
	var in []refundTierJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("cancellation policy %q: %w", s, err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]booking.RefundTier, len(in))
	for i, t := range in {
		out[i] = booking.RefundTier{Before: time.Duration(t.BeforeMS) * time.Millisecond, Percent: t.Percent}
	}
	return out, nil
}
