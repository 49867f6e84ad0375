package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// Times are stored as Unix milliseconds (BIGINT) and durations as milliseconds.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// holdColumns are the hold columns of schema step 1.
const holdColumns = `id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms`

// holdRuleColumns are the hold columns of migration 0003. holdColumns stays the list of step 1
// for writers that leave them at their defaults (classic.go).
const holdRuleColumns = `extensions, waitlist_entry_id`

// holdContactColumn is the sealed contact of migration 0011 (contacts.go).
const holdContactColumn = `contact`

// holdPaymentColumns are the hold columns of migration 0009 (payments).
const holdPaymentColumns = `payment, payment_open`

// holdColumnsAll is the column list every hold query selects, in scanHold's order.
const holdColumnsAll = holdColumns + `, ` + holdRuleColumns + `, ` + holdPaymentColumns + `, ` + holdContactColumn

// ruleColumns are the resource columns of the booking rules (migration 0003) and of browsing
// (0004) and the cancellation policy (0015), in ruleArgs and ruleRow order.
const ruleColumns = `max_extensions, allowance_units, allowance_percent, max_per_user, timezone, slot_every_ms, waitlist_offer_ttl_ms,
    tags, location, archived_at_ms, refund_policy`

func ruleArgs(r booking.Resource) []any {
	return []any{int64(r.MaxExtensions), r.Allowance.Units, r.Allowance.Percent, r.MaxPerUser, r.Timezone,
		r.SlotEvery.Milliseconds(), r.WaitlistOfferTTL.Milliseconds(), persistence.TagsJSON(r.Tags), r.Location,
		persistence.TimeMS(r.ArchivedAt), persistence.RefundsJSON(r.Refunds)}
}

// ruleRow is the ruleColumns of a resource row, as scanned.
type ruleRow struct {
	maxExt, units, percent, perUser, slotMS, offerMS, archivedMS int64
	tz, tags, location, refunds                                  string
}

// dest returns the scan destinations, in ruleColumns order.
func (x *ruleRow) dest() []any {
	return []any{&x.maxExt, &x.units, &x.percent, &x.perUser, &x.tz, &x.slotMS, &x.offerMS, &x.tags, &x.location, &x.archivedMS, &x.refunds}
}

// apply sets r's rule and browsing fields from the row.
func (x *ruleRow) apply(r *booking.Resource) error {
	r.MaxExtensions, r.Allowance, r.MaxPerUser, r.Timezone = int(x.maxExt), booking.Allowance{Units: x.units, Percent: x.percent}, x.perUser, x.tz
	r.SlotEvery, r.WaitlistOfferTTL = time.Duration(x.slotMS)*time.Millisecond, time.Duration(x.offerMS)*time.Millisecond
	r.Location, r.ArchivedAt = x.location, persistence.FromTimeMS(x.archivedMS)
	var err error
	if r.Tags, err = persistence.ParseTags(x.tags); err != nil {
		return err
	}
	r.Refunds, err = persistence.ParseRefunds(x.refunds)
	return err
}

// scanHold reads one row of holdColumnsAll.
func scanHold(row pgx.Row) (booking.Hold, error) {
	var (
		h                                       booking.Hold
		status, buckets                         string
		created, expires, updatedAt, extensions int64
		contact                                 []byte
	)
	if err := row.Scan(&h.ID, &h.ResourceID, &h.UserID, &status, &h.Quantity, &buckets,
		&h.IdempotencyKey, &created, &expires, &updatedAt, &extensions, &h.WaitlistEntryID,
		&h.Payment, &h.PaymentOpen, &contact); err != nil {
		return booking.Hold{}, err
	}
	h.Extensions = int(extensions)
	h.Contact = contact
	h.Status = booking.Status(status)
	if err := json.Unmarshal([]byte(buckets), &h.Buckets); err != nil {
		return booking.Hold{}, fmt.Errorf("hold %s: bucket list %q: %w", h.ID, buckets, err)
	}
	h.CreatedAt, h.ExpiresAt, h.UpdatedAt = fromMS(created), fromMS(expires), fromMS(updatedAt)
	return h, nil
}

// collectHolds reads all rows of holdColumnsAll.
func collectHolds(rows pgx.Rows) ([]booking.Hold, error) {
	defer rows.Close()
	var out []booking.Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// holdArrays is a batch of holds as one array per column, for INSERT ... SELECT FROM unnest.
type holdArrays struct {
	id, user, status, buckets, idem, entry      textArray
	quantity, created, expires, upd, extensions int8Array
	contact                                     byteaArray // nil elements are NULL
	payment                                     textArray
	paymentOpen                                 []bool
	idemEntry                                   []bool // the hold carries its idempotency entry (holdkeys.go)
}

// slice returns the rows [lo, hi) of a, sharing its arrays.
func (a holdArrays) slice(lo, hi int) holdArrays {
	return holdArrays{
		id: a.id[lo:hi], user: a.user[lo:hi], status: a.status[lo:hi], buckets: a.buckets[lo:hi], idem: a.idem[lo:hi],
		entry: a.entry[lo:hi], quantity: a.quantity[lo:hi], created: a.created[lo:hi], expires: a.expires[lo:hi],
		upd: a.upd[lo:hi], extensions: a.extensions[lo:hi], contact: a.contact[lo:hi], payment: a.payment[lo:hi],
		paymentOpen: a.paymentOpen[lo:hi], idemEntry: a.idemEntry[lo:hi],
	}
}

// fillHoldArrays sets element i of every array of a, each of length len(hs), from hs[i].
func fillHoldArrays(a *holdArrays, hs []booking.Hold) error {
	for i, h := range hs {
		keys, err := bucketsJSON(h.Buckets) // bucketsjson.go
		if err != nil {
			return err
		}
		a.id[i], a.user[i], a.status[i], a.buckets[i], a.idem[i] = h.ID, h.UserID, string(h.Status), keys, h.IdempotencyKey
		a.quantity[i], a.created[i], a.expires[i], a.upd[i] = h.Quantity, ms(h.CreatedAt), ms(h.ExpiresAt), ms(h.UpdatedAt)
		a.entry[i], a.extensions[i] = h.WaitlistEntryID, int64(h.Extensions)
		a.contact[i] = nil // NULL
		if len(h.Contact) > 0 {
			a.contact[i] = h.Contact
		}
		a.payment[i], a.paymentOpen[i] = h.Payment, h.PaymentOpen
		a.idemEntry[i] = false // set by newCommitBatch for the holds that carry their entry
	}
	return nil
}

// waitlistArrays is a batch of waitlist entries as one array per column.
type waitlistArrays struct {
	id, user, offer, buckets []string
	quantity, seq, created   []int64
}

func newWaitlistArrays(es []booking.WaitlistEntry) (waitlistArrays, error) {
	n := len(es)
	w := waitlistArrays{id: make([]string, n), user: make([]string, n), offer: make([]string, n), buckets: make([]string, n),
		quantity: make([]int64, n), seq: make([]int64, n), created: make([]int64, n)}
	for i, e := range es {
		b, err := json.Marshal(append([]string{}, e.Buckets...))
		if err != nil {
			return waitlistArrays{}, err
		}
		w.id[i], w.user[i], w.offer[i], w.buckets[i] = e.ID, e.UserID, e.OfferHoldID, string(b)
		w.quantity[i], w.seq[i], w.created[i] = e.Quantity, int64(e.Seq), ms(e.CreatedAt)
	}
	return w, nil
}
