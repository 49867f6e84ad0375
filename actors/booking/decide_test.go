package booking

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecideCreate(t *testing.T) {
	long := strings.Repeat("r", MaxIDLength)
	manyBuckets := func(n int) map[string]int64 {
		m := make(map[string]int64, n)
		for i := range n {
			m[fmt.Sprintf("k%04d", i)] = 1
		}
		return m
	}
	ok := func(c *CreateResource) {}
	tests := []struct {
		name  string
		state string // resource id of the state; "r1" unless set
		edit  func(*CreateResource)
		code  string
	}{
		{"minimal", "", ok, ""},
		{"id at max length", long, func(c *CreateResource) { c.ID = long }, ""},
		{"id too long", long + "r", func(c *CreateResource) { c.ID = long + "r" }, CodeInvalid},
		{"id empty", "-", func(c *CreateResource) { c.ID = "" }, CodeInvalid},
		{"id of another resource", "", func(c *CreateResource) { c.ID = "r2" }, CodeInvalid},
		{"id with slash", "a/b", func(c *CreateResource) { c.ID = "a/b" }, CodeInvalid},
		{"id with question mark", "a?b", func(c *CreateResource) { c.ID = "a?b" }, CodeInvalid},
		{"id with hash", "a#b", func(c *CreateResource) { c.ID = "a#b" }, CodeInvalid},
		{"id with percent", "a%b", func(c *CreateResource) { c.ID = "a%b" }, CodeInvalid},
		{"id with space", "a b", func(c *CreateResource) { c.ID = "a b" }, CodeInvalid},
		{"id with non-ASCII", "zö", func(c *CreateResource) { c.ID = "zö" }, CodeInvalid},
		{"id with DEL", "a\x7f", func(c *CreateResource) { c.ID = "a\x7f" }, CodeInvalid},
		{"name empty", "", func(c *CreateResource) { c.Name = "" }, CodeInvalid},
		{"name at max bytes", "", func(c *CreateResource) { c.Name = strings.Repeat("n", MaxNameLength) }, ""},
		{"name too long", "", func(c *CreateResource) { c.Name = strings.Repeat("n", MaxNameLength+1) }, CodeInvalid},
		{"name multibyte counts bytes", "", func(c *CreateResource) { c.Name = strings.Repeat("ü", MaxNameLength/2+1) }, CodeInvalid},
		{"name UTF-8", "", func(c *CreateResource) { c.Name = "Doppelzimmer für zwei" }, ""},
		{"name invalid UTF-8", "", func(c *CreateResource) { c.Name = "a\xffb" }, CodeInvalid},
		{"no buckets", "", func(c *CreateResource) { c.Buckets = nil }, CodeInvalid},
		{"max buckets", "", func(c *CreateResource) { c.Buckets = manyBuckets(MaxBuckets) }, ""},
		{"too many buckets", "", func(c *CreateResource) { c.Buckets = manyBuckets(MaxBuckets + 1) }, CodeInvalid},
		{"bucket key empty", "", func(c *CreateResource) { c.Buckets[""] = 1 }, CodeInvalid},
		{"bucket key at max length", "", func(c *CreateResource) { c.Buckets[strings.Repeat("k", MaxBucketKeyLen)] = 1 }, ""},
		{"bucket key too long", "", func(c *CreateResource) { c.Buckets[strings.Repeat("k", MaxBucketKeyLen+1)] = 1 }, CodeInvalid},
		{"bucket key with comma", "", func(c *CreateResource) { c.Buckets["a,b"] = 1 }, CodeInvalid},
		{"bucket key with quote", "", func(c *CreateResource) { c.Buckets[`a"b`] = 1 }, CodeInvalid},
		{"bucket key with backslash", "", func(c *CreateResource) { c.Buckets[`a\b`] = 1 }, CodeInvalid},
		{"bucket key with space", "", func(c *CreateResource) { c.Buckets["a b"] = 1 }, CodeInvalid},
		{"bucket key with pipe", "", func(c *CreateResource) { c.Buckets["a|b"] = 1 }, ""},
		{"bucket key non-ASCII", "", func(c *CreateResource) { c.Buckets["ä"] = 1 }, CodeInvalid},
		{"capacity zero", "", func(c *CreateResource) { c.Buckets["z"] = 0 }, ""},
		{"capacity max", "", func(c *CreateResource) { c.Buckets["z"] = MaxCapacity }, ""},
		{"capacity negative", "", func(c *CreateResource) { c.Buckets["z"] = -1 }, CodeInvalid},
		{"capacity too large", "", func(c *CreateResource) { c.Buckets["z"] = MaxCapacity + 1 }, CodeInvalid},
		{"ttl min", "", func(c *CreateResource) { c.HoldTTL = MinHoldTTL }, ""},
		{"ttl max", "", func(c *CreateResource) { c.HoldTTL = MaxHoldTTL }, ""},
		{"ttl below min", "", func(c *CreateResource) { c.HoldTTL = MinHoldTTL - 1 }, CodeInvalid},
		{"ttl above max", "", func(c *CreateResource) { c.HoldTTL = MaxHoldTTL + 1 }, CodeInvalid},
		{"ttl negative", "", func(c *CreateResource) { c.HoldTTL = -time.Minute }, CodeInvalid},
		{"price", "", func(c *CreateResource) { c.Price = &Money{Amount: 12900, Currency: "EUR"} }, ""},
		{"price zero", "", func(c *CreateResource) { c.Price = &Money{Amount: 0, Currency: "USD"} }, ""},
		{"price negative", "", func(c *CreateResource) { c.Price = &Money{Amount: -1, Currency: "EUR"} }, CodeInvalid},
		{"currency lower case", "", func(c *CreateResource) { c.Price = &Money{Amount: 1, Currency: "eur"} }, CodeInvalid},
		{"currency short", "", func(c *CreateResource) { c.Price = &Money{Amount: 1, Currency: "EU"} }, CodeInvalid},
		{"currency long", "", func(c *CreateResource) { c.Price = &Money{Amount: 1, Currency: "EURO"} }, CodeInvalid},
		{"currency digit", "", func(c *CreateResource) { c.Price = &Money{Amount: 1, Currency: "E1R"} }, CodeInvalid},
		{"currency empty", "", func(c *CreateResource) { c.Price = &Money{Amount: 1} }, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.state
			if id == "" {
				id = "r1"
			} else if id == "-" {
				id = ""
			}
			s := NewState(id)
			cmd := CreateResource{ID: "r1", Name: "Room", Buckets: map[string]int64{"2026-03-01": 2, "all": 5}}
			tt.edit(&cmd)
			before := observe(s)
			evs, err := s.DecideCreate(cmd, t0)
			wantCode(t, err, tt.code)
			wantUnchanged(t, s, before)
			if err != nil {
				if evs != nil {
					t.Fatalf("refused decision returned events %v", evs)
				}
				if ErrorMessage(err) == "" {
					t.Fatal("refusal without message")
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("events = %v, want one ResourceCreated", evs)
			}
			MustApply(t, s, evs)
			if !s.Exists() {
				t.Fatal("not created")
			}
			res, _ := s.Resource()
			wantTTL := cmd.HoldTTL
			if wantTTL == 0 {
				wantTTL = DefaultHoldTTL
			}
			if res.ID != cmd.ID || res.Name != cmd.Name || res.HoldTTL != wantTTL || !res.CreatedAt.Equal(t0) || !res.UpdatedAt.Equal(t0) {
				t.Fatalf("resource = %+v", res)
			}
			if !reflect.DeepEqual(res.Price, cmd.Price) {
				t.Fatalf("price = %v, want %v", res.Price, cmd.Price)
			}
			bs := s.Buckets()
			if len(bs) != len(cmd.Buckets) {
				t.Fatalf("%d buckets, want %d", len(bs), len(cmd.Buckets))
			}
			for i, b := range bs {
				if i > 0 && bs[i-1].Key >= b.Key {
					t.Fatalf("buckets not sorted: %q before %q", bs[i-1].Key, b.Key)
				}
				if b.Capacity != cmd.Buckets[b.Key] || b.Held != 0 || b.Confirmed != 0 {
					t.Fatalf("bucket %+v, want capacity %d", b, cmd.Buckets[b.Key])
				}
			}
		})
	}
}

func TestDecideCreateTwice(t *testing.T) {
	s := MustCreate(t, map[string]int64{"all": 1}, 0)
	_, err := s.DecideCreate(CreateResource{ID: "r1", Name: "Room", Buckets: map[string]int64{"all": 1}}, t0)
	wantCode(t, err, CodeAlreadyExists)
}

func TestDecideCreateCopiesPrice(t *testing.T) {
	s := NewState("r1")
	price := &Money{Amount: 100, Currency: "EUR"}
	evs, err := s.DecideCreate(CreateResource{ID: "r1", Name: "Room", Buckets: map[string]int64{"all": 1}, Price: price}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	price.Amount = 1
	evs[0].(ResourceCreated).Resource.Price.Amount = 2 // the event is the caller's after Apply
	if res, _ := s.Resource(); res.Price.Amount != 100 {
		t.Fatalf("price = %d, want 100: state aliases the command or the event", res.Price.Amount)
	}
	res, _ := s.Resource()
	res.Price.Amount = 3
	if res, _ := s.Resource(); res.Price.Amount != 100 {
		t.Fatalf("Resource() leaks the state's price")
	}
}

// updateFixture is a resource with a=10 (3 held, 2 confirmed) and b=5 (2 confirmed).
func updateFixture(tb testing.TB) *State {
	s := MustCreate(tb, map[string]int64{"a": 10, "b": 5}, time.Minute)
	MustHold(tb, s, "h1", 3, t0, "a")
	MustHold(tb, s, "h2", 2, t0, "a", "b")
	MustTransition(tb, s, "h2", true, t0)
	return s
}

func TestDecideUpdate(t *testing.T) {
	name := func(s string) *string { return &s }
	ttl := func(d time.Duration) *time.Duration { return &d }
	tests := []struct {
		name string
		cmd  UpdateResource
		code string
		caps map[string]int64 // the event's Capacities
		want map[string]int64 // capacities after apply
	}{
		{"raise", UpdateResource{Buckets: map[string]int64{"a": 20}}, "", map[string]int64{"a": 20}, map[string]int64{"a": 20, "b": 5}},
		{"lower", UpdateResource{Buckets: map[string]int64{"a": 7}}, "", map[string]int64{"a": 7}, map[string]int64{"a": 7, "b": 5}},
		{"lower to booked", UpdateResource{Buckets: map[string]int64{"a": 5, "b": 2}}, "", map[string]int64{"a": 5, "b": 2}, map[string]int64{"a": 5, "b": 2}},
		{"lower below held+confirmed", UpdateResource{Buckets: map[string]int64{"a": 4}}, CodeConflict, nil, nil},
		{"lower below confirmed", UpdateResource{Buckets: map[string]int64{"b": 1}}, CodeConflict, nil, nil},
		{"one bad bucket refuses all", UpdateResource{Buckets: map[string]int64{"a": 50, "b": 0}}, CodeConflict, nil, nil},
		{"refused update keeps the name too", UpdateResource{Buckets: map[string]int64{"b": 0}, Name: name("New")}, CodeConflict, nil, nil},
		{"add bucket", UpdateResource{Buckets: map[string]int64{"c": 7}}, "", map[string]int64{"c": 7}, map[string]int64{"a": 10, "b": 5, "c": 7}},
		{"add empty bucket", UpdateResource{Buckets: map[string]int64{"c": 0}}, "", map[string]int64{"c": 0}, map[string]int64{"a": 10, "b": 5, "c": 0}},
		{"unchanged capacity is not in the event", UpdateResource{Buckets: map[string]int64{"a": 10, "b": 6}}, "", map[string]int64{"b": 6}, map[string]int64{"a": 10, "b": 6}},
		{"name", UpdateResource{Name: name("Suite")}, "", map[string]int64{}, map[string]int64{"a": 10, "b": 5}},
		{"ttl", UpdateResource{HoldTTL: ttl(time.Hour)}, "", map[string]int64{}, map[string]int64{"a": 10, "b": 5}},
		{"nothing", UpdateResource{}, CodeInvalid, nil, nil},
		{"empty bucket map", UpdateResource{Buckets: map[string]int64{}}, CodeInvalid, nil, nil},
		{"name empty", UpdateResource{Name: name("")}, CodeInvalid, nil, nil},
		{"name invalid UTF-8", UpdateResource{Name: name("\xc3")}, CodeInvalid, nil, nil},
		{"ttl zero", UpdateResource{HoldTTL: ttl(0)}, CodeInvalid, nil, nil},
		{"ttl too long", UpdateResource{HoldTTL: ttl(MaxHoldTTL + time.Second)}, CodeInvalid, nil, nil},
		{"capacity negative", UpdateResource{Buckets: map[string]int64{"c": -1}}, CodeInvalid, nil, nil},
		{"capacity too large", UpdateResource{Buckets: map[string]int64{"a": MaxCapacity + 1}}, CodeInvalid, nil, nil},
		{"key invalid", UpdateResource{Buckets: map[string]int64{"c d": 1}}, CodeInvalid, nil, nil},
		// Deterministic precedence: a malformed request is invalid whatever else it asks.
		{"invalid and conflict", UpdateResource{Buckets: map[string]int64{"a": 0, "b": 0, "c d": 1, "e": -1}}, CodeInvalid, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := updateFixture(t)
			before := observe(s)
			at := t0.Add(time.Second)
			evs, err := s.DecideUpdate(tt.cmd, at)
			wantCode(t, err, tt.code)
			wantUnchanged(t, s, before)
			if err != nil {
				// Map order must not decide the code: ask again many times.
				for range 50 {
					_, err := s.DecideUpdate(tt.cmd, at)
					wantCode(t, err, tt.code)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("events = %v", evs)
			}
			ev := evs[0].(ResourceUpdated)
			if !reflect.DeepEqual(ev.Capacities, tt.caps) {
				t.Fatalf("capacities in event = %v, want %v", ev.Capacities, tt.caps)
			}
			MustApply(t, s, evs)
			got := map[string]int64{}
			for _, b := range s.Buckets() {
				got[b.Key] = b.Capacity
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("capacities = %v, want %v", got, tt.want)
			}
			wantBucket(t, s, "a", tt.want["a"], 3, 2) // counters survive an update
			wantBucket(t, s, "b", tt.want["b"], 0, 2)
			res, _ := s.Resource()
			wantName, wantTTL := "Room", time.Minute
			if tt.cmd.Name != nil {
				wantName = *tt.cmd.Name
			}
			if tt.cmd.HoldTTL != nil {
				wantTTL = *tt.cmd.HoldTTL
			}
			if res.Name != wantName || res.HoldTTL != wantTTL || !res.UpdatedAt.Equal(at) || !res.CreatedAt.Equal(t0) {
				t.Fatalf("resource = %+v", res)
			}
		})
	}
}

func TestDecideUpdateNotFound(t *testing.T) {
	_, err := NewState("r1").DecideUpdate(UpdateResource{Buckets: map[string]int64{"a": 1}}, t0)
	wantCode(t, err, CodeNotFound)
}

func TestDecideUpdateBucketLimit(t *testing.T) {
	m := map[string]int64{}
	for i := range MaxBuckets - 1 {
		m[fmt.Sprintf("k%04d", i)] = 1
	}
	s := MustCreate(t, m, 0)
	_, err := s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"new1": 1, "new2": 1}}, t0)
	wantCode(t, err, CodeInvalid)
	// Changing existing buckets does not count against the limit.
	_, err = s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"new1": 1, "k0000": 2}}, t0)
	wantCode(t, err, "")
}

func TestDecideUpdateTTLAppliesToNewHoldsOnly(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10}, time.Minute)
	h1 := MustHold(t, s, "h1", 1, t0, "a")
	d := time.Hour
	evs, err := s.DecideUpdate(UpdateResource{HoldTTL: &d}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	h2 := MustHold(t, s, "h2", 1, t0, "a")
	if got, _ := s.Hold("h1"); !got.ExpiresAt.Equal(h1.ExpiresAt) || !h1.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("h1 expires at %v, want %v", got.ExpiresAt, t0.Add(time.Minute))
	}
	if !h2.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("h2 expires at %v, want %v", h2.ExpiresAt, t0.Add(time.Hour))
	}
}
