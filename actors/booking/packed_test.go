package booking

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// packed returns s packed and unpacked, failing if s cannot be packed or its bytes refused.
func packed(tb testing.TB, s *State) (*State, []byte) {
	tb.Helper()
	p, ok := s.Pack(nil)
	if !ok {
		tb.Fatalf("state %s cannot be packed", s.id)
	}
	u, err := Unpack(s.id, string(p))
	if err != nil {
		tb.Fatalf("unpack of %d bytes: %v", len(p), err)
	}
	return u, p
}

// observePacked is observe without the deadline heap's layout (its stale items and their
// order are not kept: the heap is rebuilt from the held holds; what it decides is compared by
// wantDecideAlike), plus what decides future answers: which indexes exist, the per-user units
// and the waitlist's sequence.
type observedPacked struct {
	observable
	Indexed, IdemIndexed bool
	Units                map[string]int64
	Wait                 []WaitlistEntry
	WaitSeq              uint64
	HoldCount, IdemKeys  int
}

func observePacked(s *State) observedPacked {
	o := observedPacked{observable: observe(s), Indexed: s.expiry != nil, IdemIndexed: s.idem != nil, Units: s.units,
		Wait: s.Waitlist(), HoldCount: s.HoldCount(), IdemKeys: s.idemKeys()}
	o.Expiry = nil
	if len(o.Units) == 0 {
		o.Units = nil // an emptied map reads as none (State.units)
	}
	if s.wait != nil {
		o.WaitSeq = s.wait.seq
	}
	return o
}

// wantDecideAlike fails unless s and u (s unpacked) answer alike: their observables, and
// what NextExpiry, ExpireDue and the decisions of random commands return at random times.
func wantDecideAlike(tb testing.TB, rng *rand.Rand, s, u *State, now time.Time, label string) {
	tb.Helper()
	if a, b := observePacked(s), observePacked(u); !reflect.DeepEqual(a, b) {
		tb.Fatalf("%s: unpacked state differs:\npacked   %+v\nunpacked %+v", label, a, b)
	}
	at, ok := s.NextExpiry()
	uat, uok := u.NextExpiry()
	if ok != uok || !at.Equal(uat) {
		tb.Fatalf("%s: NextExpiry %v %v, unpacked %v %v", label, at, ok, uat, uok)
	}
	for range 3 {
		t := now.Add(time.Duration(rng.IntN(int(2*MaxHoldTTL/time.Second))) * time.Second)
		if a, b := s.ExpireDue(t), u.ExpireDue(t); !reflect.DeepEqual(a, b) {
			tb.Fatalf("%s: ExpireDue(%v) %+v, unpacked %+v", label, t, a, b)
		}
		cmd := PlaceHold{HoldID: fmt.Sprintf("p%d", rng.IntN(1000)), Buckets: []string{simKeys[rng.IntN(len(simKeys))]},
			Quantity: 1 + int64(rng.IntN(3)), UserID: simUsers[rng.IntN(len(simUsers))], IdempotencyKey: fmt.Sprintf("k%d", rng.IntN(40))}
		d1, err1 := s.DecidePlaceHold(cmd, t)
		d2, err2 := u.DecidePlaceHold(cmd, t)
		if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(err1, err2) {
			tb.Fatalf("%s: DecidePlaceHold(%+v) %+v %v, unpacked %+v %v", label, cmd, d1, err1, d2, err2)
		}
		join := JoinWaitlist{EntryID: "wj", OfferHoldID: "oj", UserID: cmd.UserID, Buckets: cmd.Buckets, Quantity: cmd.Quantity}
		j1, err1 := s.DecideJoinWaitlist(join, t)
		j2, err2 := u.DecideJoinWaitlist(join, t)
		if !reflect.DeepEqual(j1, j2) || !reflect.DeepEqual(err1, err2) {
			tb.Fatalf("%s: DecideJoinWaitlist %+v %v, unpacked %+v %v", label, j1, err1, j2, err2)
		}
		if n := len(s.holds.list); n > 0 {
			h := s.holds.list[rng.IntN(n)]
			x1, err1 := s.DecideExtend(ExtendHold{HoldID: h.ID, UserID: h.UserID}, t)
			x2, err2 := u.DecideExtend(ExtendHold{HoldID: h.ID, UserID: h.UserID}, t)
			if !reflect.DeepEqual(x1, x2) || !reflect.DeepEqual(err1, err2) {
				tb.Fatalf("%s: DecideExtend %+v %v, unpacked %+v %v", label, x1, err1, x2, err2)
			}
			c1, err1 := s.DecideCancel(CancelHold{HoldID: h.ID}, t)
			c2, err2 := u.DecideCancel(CancelHold{HoldID: h.ID}, t)
			if !reflect.DeepEqual(c1, c2) || !reflect.DeepEqual(err1, err2) {
				tb.Fatalf("%s: DecideCancel %+v %v, unpacked %+v %v", label, c1, err1, c2, err2)
			}
		}
	}
}

// TestPackedStatesDecideAlike: random states (the simulation's: every hold status,
// extensions, waitlist entries and offers, idempotency entries of holds, extensions, joins and
// restores, many buckets, updates, deadline and key indexes past 8) are packed and unpacked
// every few steps; the unpacked state must look and decide like the packed one
// (wantDecideAlike), and the simulation goes on with it against its reference model, for
// fixed seeds. The states reached must include each of those shapes, or the test proves
// little.
func TestPackedStatesDecideAlike(t *testing.T) {
	seeds, steps := 12, 1500
	if testing.Short() {
		seeds, steps = 6, 800
	}
	var reach struct{ indexed, idemIndexed, waiting, extended, own, statuses, many int }
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 0x9ac4))
		m := newSim(t, randChooser{r}, fmt.Sprintf("packed seed=%d", seed))
		for step := range steps {
			m.run()
			if r.IntN(8) != 0 {
				continue
			}
			s := m.s
			u, p := packed(t, s)
			wantDecideAlike(t, r, s, u, m.now, fmt.Sprintf("seed %d step %d (%d bytes)", seed, step, len(p)))
			m.s = u // on with the unpacked state: the reference model checks it from here
			if s.expiry != nil {
				reach.indexed++
			}
			if s.idem != nil {
				reach.idemIndexed++
			}
			if s.WaitlistLen() > 0 {
				reach.waiting++
			}
			if len(s.buckets.list) > smallIndex {
				reach.many++
			}
			seen := map[holdStatus]bool{}
			for _, h := range s.holds.list {
				seen[h.status] = true
				if h.ext > 0 {
					reach.extended++
				}
			}
			if len(seen) == 4 {
				reach.statuses++
			}
			for _, e := range s.idemLog {
				if e.own != nil {
					reach.own++
				}
			}
		}
	}
	// Many buckets and keys (the simulation's pools have 8 of each): a calendar of 10-24 days,
	// holds on runs of days and on days out of order, with keys, renewals, cancellations,
	// confirmations and waiting entries.
	for seed := range 40 {
		r := rand.New(rand.NewPCG(uint64(seed), 0xb0c4e7))
		caps := map[string]int64{}
		var days []string
		for i := range 10 + r.IntN(15) {
			d := fmt.Sprintf("2026-04-%02d", i+1)
			days, caps[d] = append(days, d), 1+int64(r.IntN(4))
		}
		s := MustCreate(t, caps, time.Minute)
		now := t0
		for i := range 10 + r.IntN(30) {
			now = now.Add(time.Duration(r.IntN(20)) * time.Second)
			a := r.IntN(len(days))
			bs := days[a : a+1+r.IntN(min(3, len(days)-a))]
			if r.IntN(3) == 0 {
				bs = []string{days[r.IntN(len(days))], days[0]}
				if bs[0] == bs[1] {
					bs = bs[:1]
				}
			}
			cmd := PlaceHold{HoldID: fmt.Sprintf("h%d", i), Buckets: bs, Quantity: 1, UserID: fmt.Sprintf("u%d", r.IntN(4)), IdempotencyKey: fmt.Sprintf("k%d", i)}
			d, err := s.DecidePlaceHold(cmd, now)
			if err != nil {
				if j, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: fmt.Sprintf("w%d", i), OfferHoldID: fmt.Sprintf("o%d", i), UserID: cmd.UserID,
					Buckets: bs, Quantity: 1, IdempotencyKey: fmt.Sprintf("j%d", i)}, now); err == nil {
					MustApply(t, s, j.Events)
				}
				continue
			}
			MustApply(t, s, d.Events)
			switch r.IntN(5) {
			case 0:
				MustTransition(t, s, d.HoldID, true, now)
			case 1:
				MustTransition(t, s, d.HoldID, false, now)
			case 2:
				if x, err := s.DecideExtend(ExtendHold{HoldID: d.HoldID, UserID: cmd.UserID, IdempotencyKey: fmt.Sprintf("x%d", i)}, now); err == nil {
					MustApply(t, s, x.Events)
				}
			}
			if r.IntN(6) == 0 {
				MustApply(t, s, s.ExpireDue(now))
			}
		}
		u, p := packed(t, s)
		wantDecideAlike(t, r, s, u, now, fmt.Sprintf("calendar seed %d (%d bytes)", seed, len(p)))
		if len(s.buckets.list) > smallIndex {
			reach.many++
		}
		if s.idem != nil {
			reach.idemIndexed++
		}
	}
	if v := reflect.ValueOf(reach); true {
		for i := range v.NumField() {
			if v.Field(i).Int() == 0 {
				t.Errorf("no packed state had %s: %+v", v.Type().Field(i).Name, reach)
			}
		}
	}
	t.Logf("packed states reached: %+v", reach)
}

// TestPackKeepsRareFields: what the simulation does not make (a price, refund tiers, tags, a
// location and rules of the resource; a hold's contact, payment and waitlist entry; a
// store-loaded idempotency entry) comes back exactly, and a state with a time the format
// cannot say is not packed.
func TestPackKeepsRareFields(t *testing.T) {
	res := Resource{ID: "r", Name: "Suite", HoldTTL: time.Minute, MaxExtensions: 7, Allowance: Allowance{Units: 1, Percent: 10},
		MaxPerUser: 9, Timezone: "Europe/Berlin", SlotEvery: time.Hour, WaitlistOfferTTL: 3 * time.Minute,
		Price: &Money{Amount: 1250, Currency: "EUR"}, Refunds: []RefundTier{{Before: 48 * time.Hour, Percent: 100}, {Before: 0, Percent: 20}},
		Tags: []string{"a", "b"}, Location: "Berlin", CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
	holds := []Hold{
		{ID: "h1", ResourceID: "r", UserID: "u1", IdempotencyKey: "k1", Buckets: []string{"b", "a"}, Quantity: 2, Status: StatusHeld,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0, Contact: SealedContact("sealed"), Payment: "pay", PaymentOpen: true},
		{ID: "h2", ResourceID: "r", UserID: "u2", Buckets: []string{"a"}, Quantity: 1, Status: StatusConfirmed,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0.Add(3 * time.Second), Extensions: 3, WaitlistEntryID: "w9",
			Contact: SealedContact{}},
	}
	idem := []IdempotencyEntry{{Key: "k0", Fingerprint: "fp", HoldID: "gone", CreatedAt: t0.Add(-time.Hour)}}
	s := RestoreSaved(Saved{Resource: res, Buckets: []Bucket{{Key: "a", Capacity: 5}, {Key: "b", Capacity: 5}}, Holds: holds, Idempotency: idem,
		Waitlist: []WaitlistEntry{{ID: "w1", ResourceID: "r", UserID: "u3", OfferHoldID: "o1", Buckets: []string{"a"}, Quantity: 9, Seq: 4, CreatedAt: t0}}})
	u, _ := packed(t, s)
	wantDecideAlike(t, rand.New(rand.NewPCG(1, 2)), s, u, t0, "rare fields")
	if h, _ := u.Hold("h2"); h.Contact == nil || len(h.Contact) != 0 {
		t.Fatalf("an empty contact came back as %#v", h.Contact)
	}

	odd := s.Clone()
	odd.holds.list[0].setTime(updatedAt, t0.In(time.FixedZone("x", 3600)))
	if _, ok := odd.Pack(nil); ok {
		t.Fatal("a hold time outside UTC was packed")
	}
	if _, err := Unpack("r", ""); err == nil {
		t.Fatal("no bytes unpacked")
	}
	p, _ := s.Pack(nil)
	for n := range len(p) {
		if _, err := Unpack("r", string(p[:n])); err == nil {
			t.Fatalf("a packed state cut to %d of %d bytes unpacked", n, len(p))
		}
	}
	if _, err := Unpack("r", string(append(p, 0))); err == nil {
		t.Fatal("a packed state with a byte more unpacked")
	}
}

// FuzzUnpack: any bytes either are refused or unpack into a state that packs again, and
// whose packed form is a fixed point (pack, unpack, pack gives the same bytes). The seeds are
// states of the simulation and TestPackKeepsRareFields' kinds.
func FuzzUnpack(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	m := newSim(f, randChooser{r}, "fuzz seeds")
	for step := range 400 {
		m.run()
		if step%40 == 0 {
			p, _ := m.s.Pack(nil)
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		s, err := Unpack("r1", string(p))
		if err != nil {
			return
		}
		q, ok := s.Pack(nil)
		if !ok {
			t.Fatal("an unpacked state cannot be packed")
		}
		s2, err := Unpack("r1", string(q))
		if err != nil {
			t.Fatalf("a packed state refused: %v", err)
		}
		if q2, _ := s2.Pack(nil); string(q2) != string(q) {
			t.Fatalf("pack is no fixed point:\n%x\n%x", q, q2)
		}
		_ = s2.Buckets()
		_ = s2.Waitlist()
		_, _ = s2.NextExpiry()
	})
}

// BenchmarkPack and BenchmarkUnpack: the cost of going quiet and of the next command after,
// for a resource of 3 holds with keys (the memory benchmark's, with the node's ids and keys).
func BenchmarkPack(b *testing.B) {
	s := benchPackState(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.Pack(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkUnpack(b *testing.B) {
	p, _ := benchPackState(b).Pack(nil)
	ps := string(p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unpack("mem-20261207-000001", ps); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPackState(tb testing.TB) *State {
	s := NewState("mem-20261207-000001")
	MustApply(tb, s, []Event{ResourceCreated{Resource: Resource{ID: s.id, Name: s.id, HoldTTL: time.Hour, CreatedAt: t0, UpdatedAt: t0},
		Buckets: []Bucket{{Key: "all", Capacity: 6}}}})
	for i := range 3 {
		// As the node makes them: a hold id of the resource package's form, the edge's scoped
		// key (api/holds.go: "s1." and the base64url SHA-256 of the subject and the key).
		sum := sha256.Sum256([]byte(fmt.Sprintf("u-%d/%s-%d", i, s.id, i)))
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: fmt.Sprintf("h_2a3bqk7cdx4mzt6wexyvpf3ghsnla%d", i), Buckets: []string{"all"}, Quantity: 1,
			UserID: fmt.Sprintf("u-%d", i), IdempotencyKey: "s1." + base64.RawURLEncoding.EncodeToString(sum[:])}, t0)
		if err != nil {
			tb.Fatal(err)
		}
		MustApply(tb, s, d.Events)
	}
	return s
}

// TestPackedText: strings come back exactly whichever form appendText picks (raw, sharing a
// beginning with the string before, base32 or base64url after a raw head), for random strings
// of base32 or base64url characters mixed with others, each after a random relative, for fixed
// seeds; a hold id packs into the base32 form and an edge's scoped key into base64url.
func TestPackedText(t *testing.T) {
	const others = "_-|h.Z9\x00\xff"
	kinds := map[uint64]int{}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 0x7e47))
		gen := func() string {
			b := make([]byte, r.IntN(60))
			alphabet := []string{base32Alphabet, base64Alphabet}[r.IntN(2)]
			for i := range b {
				if r.IntN(4) == 0 {
					b[i] = others[r.IntN(len(others))]
				} else {
					b[i] = alphabet[r.IntN(len(alphabet))]
				}
			}
			if r.IntN(3) == 0 {
				return "h_" + string(b)
			}
			return string(b)
		}
		prev := ""
		var p []byte
		var want []string
		for range 20 {
			s := gen()
			if r.IntN(2) == 0 && len(prev) > 0 {
				s = prev[:r.IntN(len(prev))] + s
			}
			at := len(p)
			p = appendText(p, s, prev)
			h, _ := binary.Uvarint(p[at:])
			kinds[h&3]++
			want, prev = append(want, s), s
		}
		d := unpacker{p: string(p)}
		prev = ""
		for i, w := range want {
			if got := d.text(prev); got != w || d.bad {
				t.Fatalf("seed %d string %d: %q, want %q (bad %v)", seed, i, got, w, d.bad)
			}
			prev = w
		}
		if d.off != len(p) {
			t.Fatalf("seed %d: %d of %d bytes read", seed, d.off, len(p))
		}
	}
	for k := range uint64(4) {
		if kinds[k] == 0 {
			t.Fatalf("no string took form %d: %v", k, kinds)
		}
	}
	id := "h_2a3bqk7cdx4mzt6wexyvpf3ghsnla5q"
	if p := appendText(nil, id, ""); len(p) != 1+2+1+(5*(len(id)-2)+7)/8 || p[0]&3 != textBase32 {
		t.Fatalf("hold id packed as %d bytes, form %d", len(p), p[0]&3)
	}
	key := "s1.2Yy0Zq-_hdK8b3QmT7xWlN4vR1cFgS9uAeJpHiXoBtD" // api's scopedIdempotencyKey
	if p := appendText(nil, key, ""); len(p) != 1+3+1+(6*(len(key)-3)+7)/8 || p[0]&3 != textBase64 {
		t.Fatalf("scoped key packed as %d bytes, form %d", len(p), p[0]&3)
	}
}
