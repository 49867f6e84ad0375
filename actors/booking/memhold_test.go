package booking

import (
	"reflect"
	"testing"
	"time"
)

// TestHoldInMemoryRoundTrips: a hold a state is handed comes back as it was, whatever it holds:
// the usual one (UTC milliseconds, one of the four statuses, the state's resource) and the odd
// ones a test or a store row may hand in (another zone, a monotonic reading, a time outside
// what an instant holds, the zero time, an unknown status, another resource id, an empty but
// non-nil contact).
func TestHoldInMemoryRoundTrips(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	base := Hold{ID: "h1", ResourceID: "r1", UserID: "u1", IdempotencyKey: "k1", Buckets: []string{"a", "b"},
		Quantity: 2, Status: StatusHeld, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0}
	for name, change := range map[string]func(*Hold){
		"usual":          func(*Hold) {},
		"confirmed":      func(h *Hold) { h.Status = StatusConfirmed },
		"unknown status": func(h *Hold) { h.Status = "lost" },
		"no status":      func(h *Hold) { h.Status = "" },
		"zero times":     func(h *Hold) { h.CreatedAt, h.ExpiresAt, h.UpdatedAt = time.Time{}, time.Time{}, time.Time{} },
		"paris":          func(h *Hold) { h.ExpiresAt = h.ExpiresAt.In(paris) },
		"monotonic":      func(h *Hold) { h.UpdatedAt = time.Now() },
		"year 3000":      func(h *Hold) { h.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 1000":      func(h *Hold) { h.CreatedAt = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"epoch":          func(h *Hold) { h.CreatedAt = time.Unix(0, 0).UTC() },
		"other resource": func(h *Hold) { h.ResourceID = "r2" },
		"no resource":    func(h *Hold) { h.ResourceID = "" },
		"everything rare": func(h *Hold) {
			h.WaitlistEntryID, h.Contact, h.Payment, h.PaymentOpen = "w1", SealedContact("c"), "p", true
		},
		"empty contact":    func(h *Hold) { h.Contact = SealedContact{} },
		"extensions":       func(h *Hold) { h.Extensions = 1 << 40 },
		"most extensions":  func(h *Hold) { h.Extensions = 65535 },
		"extensions over":  func(h *Hold) { h.Extensions = 65536 },
		"negative renewal": func(h *Hold) { h.Extensions = -1 },
		"updated later":    func(h *Hold) { h.UpdatedAt = t0.Add(24 * time.Hour) },
		"updated 30 days":  func(h *Hold) { h.UpdatedAt = t0.Add(30 * 24 * time.Hour) },
		"updated before":   func(h *Hold) { h.UpdatedAt = t0.Add(-30 * 24 * time.Hour) },
		"updated in µs":    func(h *Hold) { h.UpdatedAt = t0.Add(time.Microsecond) },
		"zero update":      func(h *Hold) { h.UpdatedAt = time.Time{} },
		"zero creation":    func(h *Hold) { h.CreatedAt = time.Time{} },
		"year 2200": func(h *Hold) {
			h.CreatedAt, h.UpdatedAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 2, 0, 0, 0, 0, time.UTC)
		},
		"no buckets":       func(h *Hold) { h.Buckets = nil },
		"buckets reversed": func(h *Hold) { h.Buckets = []string{"b", "a"} },  // no run of the state's keys: in its lists
		"unknown bucket":   func(h *Hold) { h.Buckets = []string{"a", "zz"} }, // likewise
		"second bucket":    func(h *Hold) { h.Buckets = []string{"b"} },       // a run from position 1
		"all odd together": func(h *Hold) { h.Status, h.ResourceID, h.UpdatedAt, h.Payment = "x", "r3", time.Now(), "p" },
	} {
		t.Run(name, func(t *testing.T) {
			x := *base.Clone()
			change(&x)
			s := NewState("r1") // the buckets a and b, in this order: a hold's list is a run of them, or its own
			s.buckets.add(Bucket{Key: "a"})
			s.buckets.add(Bucket{Key: "b"})
			var h hold
			h.setHold(&x, "r1")
			s.setBuckets(&h, x.Buckets)
			view := func(h *hold) Hold { return h.view("r1", s.bucketsOf(h)) }
			if got := view(&h); !reflect.DeepEqual(got, x) {
				t.Fatalf("view = %+v, want %+v", got, x)
			}
			// Writes to a copy (a state's clone) leave the original as it was.
			c := h
			c.setStatus("gone")
			c.setTime(expiresAt, time.Now())
			c.setPayment("changed", false)
			c.setTime(updatedAt, t0.Add(time.Hour))
			c.setExtensions(x.Extensions + 1)
			if got := view(&h); !reflect.DeepEqual(got, x) {
				t.Fatalf("after writes to a copy, view = %+v, want %+v", got, x)
			}
			// And the copy took them.
			if c.Status() != "gone" || view(&c).Payment != "changed" || !c.UpdatedAt().Equal(t0.Add(time.Hour)) ||
				c.Extensions() != x.Extensions+1 {
				t.Fatalf("copy = %+v", view(&c))
			}
		})
	}
}

// TestPlacedHoldInMemoryIsAsHold: a placed hold in memory is the Hold AsHold makes.
func TestPlacedHoldInMemoryIsAsHold(t *testing.T) {
	for _, p := range []PlacedHold{
		{ID: "h1", UserID: "u", Buckets: []string{"a"}, Quantity: 1, CreatedAt: t0, TTL: time.Minute},
		{ID: "h2", UserID: "u", IdempotencyKey: "k", Buckets: []string{"a", "b"}, Quantity: 3, CreatedAt: t0,
			TTL: time.Hour, WaitlistEntryID: "w", Contact: SealedContact("sealed")},
	} {
		s := NewState("r1")
		s.buckets.add(Bucket{Key: "a"})
		s.buckets.add(Bucket{Key: "b"})
		var h hold
		h.setPlaced(&p)
		s.setBuckets(&h, p.Buckets)
		if got, want := h.view("r1", s.bucketsOf(&h)), p.AsHold("r1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("view = %+v, want %+v", got, want)
		}
	}
}

// TestResourceInMemoryRoundTrips: a resource a state is handed comes back as it was, also with
// times that are no instant, and a write to a copy (a state's clone) leaves the original alone.
func TestResourceInMemoryRoundTrips(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	base := Resource{ID: "r1", Name: "room", Price: &Money{Amount: 100, Currency: "EUR"}, HoldTTL: time.Minute,
		CreatedAt: t0, UpdatedAt: t0, MaxExtensions: 2, Allowance: Allowance{Units: 1, Percent: 5}, MaxPerUser: 3,
		Timezone: "Europe/Paris", SlotEvery: time.Hour, WaitlistOfferTTL: time.Hour, Refunds: []RefundTier{{}},
		Tags: []string{"a"}, Location: "here"}
	for name, change := range map[string]func(*Resource){
		"usual":     func(*Resource) {},
		"bare":      func(r *Resource) { r.Price, r.Refunds, r.Tags, r.Location = nil, nil, nil, "" },
		"archived":  func(r *Resource) { r.ArchivedAt = t0.Add(time.Hour) },
		"paris":     func(r *Resource) { r.CreatedAt = t0.In(paris) },
		"monotonic": func(r *Resource) { r.ArchivedAt = time.Now() },
		"zero":      func(r *Resource) { r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			x := base
			change(&x)
			for _, stateID := range []string{x.ID, "another-id"} { // its state's id, or not
				resourceRoundTrips(t, x, stateID)
			}
		})
	}
}

// resourceRoundTrips checks x in memory on a state of resource stateID.
func resourceRoundTrips(t *testing.T, x Resource, stateID string) {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	var r resourceMem
	r.set(x, stateID)
	if got := r.view(stateID, true); !reflect.DeepEqual(got, x) {
		t.Fatalf("view = %+v, want %+v", got, x)
	}
	if r.Archived() != x.Archived() {
		t.Fatalf("Archived = %v, want %v", r.Archived(), x.Archived())
	}
	c := r
	c.setTime(resUpdatedAt, time.Now())
	c.setTime(resArchivedAt, t0.In(paris))
	if got := r.view(stateID, true); !reflect.DeepEqual(got, x) {
		t.Fatalf("after writes to a copy, view = %+v, want %+v", got, x)
	}
	if !c.Archived() || !c.view(stateID, true).ArchivedAt.Equal(t0) {
		t.Fatalf("copy = %+v", c.view(stateID, true))
	}
}
