// Package storetest is the contract every persistence.Store implementation passes.
//
// A store's own test calls RunContract with a constructor:
//
//	func TestContract(t *testing.T) {
//		storetest.RunContract(t, func(t *testing.T) persistence.Store { return MustOpen(t) })
//	}
//
// Every subtest uses resource, hold and user ids under a prefix unique to the RunContract call,
// so newStore may hand back one shared store (even a database that earlier runs have filled):
// the suite never assumes an empty database. newStore is called once per subtest; the last
// subtest ("CloseTwice") closes the store it was given, twice, so a shared store must not be
// used after RunContract returns.
//
// Contract decisions that the Store interface leaves implicit, and that this suite pins down:
//   - Snapshot.Buckets are sorted by key; the order of Snapshot.Holds and Snapshot.Idempotency
//     is unspecified.
//   - Times round-trip at millisecond precision and compare with time.Time.Equal; durations
//     (HoldTTL) too. Callers pass ms-truncated values; a store may return any location.
//   - An idempotency key already stored for the resource is left as it is; the batch that
//     carried it again still commits.
//   - Activate deletes up to persistence.IdempotencyPruneLimit of the resource's keys created
//     before its idemSince (and no other resource's); a later Activate no longer returns them.
//   - Batch.Resource is an after-image like the others: every field of it is stored.
//   - A batch that fails validation — a bucket after-image breaking the schema CHECK
//     (held >= 0, confirmed >= 0, held + confirmed <= capacity), a hold or resource whose
//     ResourceID is not the batch's, or a hold id already owned by another resource — fails
//     with an error that is neither ErrFenced nor ErrUnavailable, writes nothing, and leaves
//     the activation usable: a later valid batch with the same epoch commits.
//   - Lease ends (Batch.LeaseUntil, Renew's until) are stored at millisecond precision
//     rounded up, never down: a successor must not see a lease end before its holder's.
//     Snapshot.LeaseUntil is the zero time when no lease is stored (IsZero holds).
//   - A ctx already cancelled makes every method fail with an error for which
//     errors.Is(err, context.Canceled) holds, and nothing is written (Activate does not bump
//     the epoch).
//   - Resource rule fields (MaxExtensions, Allowance, MaxPerUser, Timezone, SlotEvery,
//     WaitlistOfferTTL) and hold fields (Extensions, WaitlistEntryID) round-trip; bucket
//     after-images keep Capacity and Allowance apart, and the CHECK is
//     held + confirmed <= Capacity + Allowance (with Allowance 0: the original one).
//   - Waitlist entries are upserted by id, then Batch.WaitlistRemoved deleted; Snapshot.Waitlist
//     is by Seq; an entry id owned by another resource fails the batch like a foreign hold, and
//     removing it from another resource's batch leaves it alone.
//   - Every store has ListWaitlist (positions as committed, by CreatedAt then ID), and
//     ListResources (by ID after a cursor; name search folds ASCII case only and takes LIKE
//     wildcards literally; availability on listed buckets as committed, allowance included).
//   - A hold's sealed contact round-trips (nil for none) and is written once, by the hold's
//     first batch; every Store is a persistence.ContactStore (contacts.go).
//   - After Close, Ping fails.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// RunContract runs the store contract as subtests of t. See the package documentation for
// what newStore may return.
func RunContract(t *testing.T, newStore func(t *testing.T) persistence.Store) {
	t.Helper()
	prefix := uniquePrefix(t)
	tests := []struct {
		name string
		run  func(f *fixture)
	}{
		{"ActivateAbsent", testActivateAbsent},
		{"Create", testCreate},
		{"CommitToAbsentIsFenced", testCommitToAbsent},
		{"ActivateBumpsEpoch", testActivateBumpsEpoch},
		{"StaleEpochFenced", testStaleEpochFenced},
		{"ConcurrentActivations", testConcurrentActivations},
		{"ConcurrentCreations", testConcurrentCreations},
		{"AfterImages", testAfterImages},
		{"IdempotencyInsertOnce", testIdempotencyInsertOnce},
		{"IdempotencyKeysShareAHold", testIdempotencyKeysShareAHold},
		{"IdempotencyPruned", testIdempotencyPruned}, // idempotency.go
		{"GetHold", testGetHold},
		{"ListHolds", testListHolds},
		{"ListHoldsDefaultLimit", testListHoldsDefaultLimit},
		{"ListHoldsInvalidFilter", testListHoldsInvalidFilter},
		{"CapacityCheck", testCapacityCheck},
		{"ForeignHold", testForeignHold},
		{"LargeBatch", testLargeBatch},
		{"Version", testVersion},
		{"VersionOrder", testVersionOrder},
		{"Pipeline", testPipeline}, // pipeline.go
		{"LeaseOnCommit", testLeaseOnCommit},
		{"Renew", testRenew},
		{"RenewFenced", testRenewFenced},
		{"LeaseRoundsUp", testLeaseRoundsUp},
		{"HandOver", testHandOver}, // handover.go
		{"CancelledContext", testCancelledContext},
		{"RuleColumns", testRuleColumns},
		{"AllowanceCheck", testAllowanceCheck},
		{"Waitlist", testWaitlist},
		{"ForeignWaitlistEntry", testForeignWaitlistEntry},
		{"ListWaitlist", testListWaitlist},
		{"ListResources", testListResources},
		{"Randomized", testRandomized},
		{"OutboxCommit", testOutboxCommit},
		{"OutboxFencedOrFailed", testOutboxFencedOrFailed},
		{"OutboxClaim", testOutboxClaim},
		{"OutboxClaimBatches", testOutboxClaimBatches}, // outbox_batch.go
		{"OutboxClaimOrder", testOutboxClaimOrder},     // outbox_order.go
		{"OutboxList", testOutboxList},
		{"Inbox", testInbox},
		{"ContactRoundTrip", testContactRoundTrip},
		{"ContactRekey", testContactRekey},
		{"Payments", testPayments},     // payments.go
		{"CloseTwice", testCloseTwice}, // last: it closes its store
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tc.run(&fixture{T: t, s: s, prefix: fmt.Sprintf("%s-%02d", prefix, i)})
		})
	}
}

// base is the suite's fixed epoch for timestamps: ms-precision, far from the zero time.
var base = time.UnixMilli(1_900_000_000_000).UTC()

// at returns base plus ms milliseconds.
func at(ms int64) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

func uniquePrefix(t *testing.T) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return "st" + hex.EncodeToString(b[:])
}

// fixture is one subtest's store and id namespace.
type fixture struct {
	*testing.T
	s      persistence.Store
	prefix string
}

// id returns an id unique to this subtest and RunContract call.
func (f *fixture) id(name string) string { return f.prefix + "-" + name }

func (f *fixture) ctx() context.Context { return context.Background() }

// resource returns a resource with fixed metadata, created at base.
func (f *fixture) resource(id string) booking.Resource {
	return booking.Resource{ID: id, Name: "Room " + id, HoldTTL: 10 * time.Minute, CreatedAt: base, UpdatedAt: base}
}

// create creates resource id with the given buckets (capacity only) and returns the
// creation batch. The creator's epoch is 1.
func (f *fixture) create(id string, buckets ...booking.Bucket) *persistence.Batch {
	f.Helper()
	b := &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), Buckets: buckets}
	if err := f.s.Commit(f.ctx(), b); err != nil {
		f.Fatalf("create %s: %v", id, err)
	}
	return b
}

// commit commits b and fails the test on error.
func (f *fixture) commit(b *persistence.Batch) {
	f.Helper()
	if err := f.s.Commit(f.ctx(), b); err != nil {
		f.Fatalf("commit %s epoch %d version %d: %v", b.ResourceID, b.Epoch, b.Version, err)
	}
}

// activate activates id and fails the test on error.
func (f *fixture) activate(id string, idemSince time.Time) *persistence.Snapshot {
	f.Helper()
	snap, err := f.s.Activate(f.ctx(), id, idemSince)
	if err != nil {
		f.Fatalf("activate %s: %v", id, err)
	}
	if snap == nil {
		f.Fatalf("activate %s: nil snapshot", id)
	}
	return snap
}

// getHold expects the hold to exist and equal want.
func (f *fixture) expectHold(want booking.Hold) {
	f.Helper()
	got, err := f.s.GetHold(f.ctx(), want.ResourceID, want.ID)
	if err != nil {
		f.Fatalf("GetHold %s/%s: %v", want.ResourceID, want.ID, err)
	}
	if !reflect.DeepEqual(canonHold(got), canonHold(want)) {
		f.Fatalf("GetHold %s:\n got %+v\nwant %+v", want.ID, canonHold(got), canonHold(want))
	}
}

// expectNoHold expects GetHold to return ErrNotFound.
func (f *fixture) expectNoHold(resourceID, holdID string) {
	f.Helper()
	_, err := f.s.GetHold(f.ctx(), resourceID, holdID)
	if !errors.Is(err, persistence.ErrNotFound) {
		f.Fatalf("GetHold %s/%s: err = %v, want ErrNotFound", resourceID, holdID, err)
	}
}

// hold returns a held hold of resource res claiming buckets, created at base+ms.
func hold(res, id, user string, ms int64, qty int64, buckets ...string) booking.Hold {
	return booking.Hold{
		ID: id, ResourceID: res, UserID: user, IdempotencyKey: "",
		Buckets: append([]string(nil), buckets...), Quantity: qty, Status: booking.StatusHeld,
		CreatedAt: at(ms), ExpiresAt: at(ms + 600_000), UpdatedAt: at(ms),
	}
}

// expectSnapshot compares the parts of a snapshot that the caller specifies.
func (f *fixture) expectSnapshot(got *persistence.Snapshot, want persistence.Snapshot) {
	f.Helper()
	if got.Exists != want.Exists || got.Epoch != want.Epoch || got.Version != want.Version {
		f.Fatalf("snapshot: exists/epoch/version = %v/%d/%d, want %v/%d/%d",
			got.Exists, got.Epoch, got.Version, want.Exists, want.Epoch, want.Version)
	}
	if !got.LeaseUntil.Equal(want.LeaseUntil) || got.LeaseUntil.IsZero() != want.LeaseUntil.IsZero() {
		f.Fatalf("snapshot: LeaseUntil = %s, want %s", fmtLease(got.LeaseUntil), fmtLease(want.LeaseUntil))
	}
	if g, w := canonResource(got.Resource), canonResource(want.Resource); !reflect.DeepEqual(g, w) {
		f.Fatalf("snapshot resource:\n got %+v\nwant %+v", fmtResource(g), fmtResource(w))
	}
	if !sort.SliceIsSorted(got.Buckets, func(i, j int) bool { return got.Buckets[i].Key < got.Buckets[j].Key }) {
		f.Fatalf("snapshot buckets not sorted by key: %+v", got.Buckets)
	}
	if !reflect.DeepEqual(nonNil(got.Buckets), nonNil(want.Buckets)) {
		f.Fatalf("snapshot buckets:\n got %+v\nwant %+v", got.Buckets, want.Buckets)
	}
	if g, w := canonHolds(got.Holds), canonHolds(want.Holds); !reflect.DeepEqual(g, w) {
		f.Fatalf("snapshot holds (%d, want %d):\n got %+v\nwant %+v", len(g), len(w), g, w)
	}
	if g, w := canonIdem(got.Idempotency), canonIdem(want.Idempotency); !reflect.DeepEqual(g, w) {
		f.Fatalf("snapshot idempotency:\n got %+v\nwant %+v", g, w)
	}
	if !sort.SliceIsSorted(got.Waitlist, func(i, j int) bool { return got.Waitlist[i].Seq < got.Waitlist[j].Seq }) {
		f.Fatalf("snapshot waitlist not sorted by seq: %+v", got.Waitlist)
	}
	if g, w := canonWaitlist(got.Waitlist), canonWaitlist(want.Waitlist); !reflect.DeepEqual(g, w) {
		f.Fatalf("snapshot waitlist:\n got %+v\nwant %+v", g, w)
	}
}

// canonWaitlist returns canonical copies sorted by Seq.
func canonWaitlist(es []booking.WaitlistEntry) []booking.WaitlistEntry {
	out := make([]booking.WaitlistEntry, len(es))
	for i, e := range es {
		e.Buckets = nonNil(e.Buckets)
		e.CreatedAt = e.CreatedAt.UTC()
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func fmtLease(t time.Time) string {
	if t.IsZero() {
		return "zero (no lease)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func canonResource(r booking.Resource) booking.Resource {
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

func fmtResource(r booking.Resource) string {
	p := "nil"
	if r.Price != nil {
		p = fmt.Sprintf("%+v", *r.Price)
	}
	return fmt.Sprintf("{ID:%s Name:%q Price:%s HoldTTL:%s CreatedAt:%s UpdatedAt:%s MaxExtensions:%d Allowance:%+v MaxPerUser:%d Timezone:%q SlotEvery:%s WaitlistOfferTTL:%s Refunds:%v}",
		r.ID, r.Name, p, r.HoldTTL, r.CreatedAt.Format(time.RFC3339Nano), r.UpdatedAt.Format(time.RFC3339Nano),
		r.MaxExtensions, r.Allowance, r.MaxPerUser, r.Timezone, r.SlotEvery, r.WaitlistOfferTTL, r.Refunds)
}

func canonHold(h booking.Hold) booking.Hold {
	h.Buckets = nonNil(h.Buckets)
	if len(h.Contact) == 0 {
		h.Contact = nil
	}
	h.CreatedAt = h.CreatedAt.UTC()
	h.ExpiresAt = h.ExpiresAt.UTC()
	h.UpdatedAt = h.UpdatedAt.UTC()
	return h
}

// canonHolds returns canonical copies sorted by CreatedAt then ID.
func canonHolds(hs []booking.Hold) []booking.Hold {
	out := make([]booking.Hold, len(hs))
	for i, h := range hs {
		out[i] = canonHold(h)
	}
	sortHolds(out)
	return out
}

// sortHolds sorts by CreatedAt then ID: the ListHolds order.
func sortHolds(hs []booking.Hold) {
	sort.Slice(hs, func(i, j int) bool {
		if !hs[i].CreatedAt.Equal(hs[j].CreatedAt) {
			return hs[i].CreatedAt.Before(hs[j].CreatedAt)
		}
		return hs[i].ID < hs[j].ID
	})
}

func canonIdem(es []booking.IdempotencyEntry) []booking.IdempotencyEntry {
	out := make([]booking.IdempotencyEntry, len(es))
	for i, e := range es {
		e.CreatedAt = e.CreatedAt.UTC()
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// expectList runs ListHolds and compares with want, in order.
func (f *fixture) expectList(filter persistence.HoldFilter, want []booking.Hold) {
	f.Helper()
	got, err := f.s.ListHolds(f.ctx(), filter)
	if err != nil {
		f.Fatalf("ListHolds %+v: %v", filter, err)
	}
	g := make([]booking.Hold, len(got))
	for i := range got {
		g[i] = canonHold(got[i])
	}
	w := make([]booking.Hold, len(want))
	for i := range want {
		w[i] = canonHold(want[i])
	}
	if !reflect.DeepEqual(g, w) {
		f.Fatalf("ListHolds %+v: got %d holds, want %d\n got %v\nwant %v", filter, len(g), len(w), holdIDs(g), holdIDs(w))
	}
}

func holdIDs(hs []booking.Hold) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

// expectInvalidBatch expects err to be a validation failure: non-nil, not ErrFenced, not
// ErrUnavailable.
func (f *fixture) expectInvalidBatch(what string, err error) {
	f.Helper()
	switch {
	case err == nil:
		f.Fatalf("%s: commit succeeded, want an error", what)
	case errors.Is(err, persistence.ErrFenced):
		f.Fatalf("%s: err = %v, want a validation error that is not ErrFenced", what, err)
	case errors.Is(err, persistence.ErrUnavailable):
		f.Fatalf("%s: err = %v, want a validation error that is not ErrUnavailable", what, err)
	}
}
