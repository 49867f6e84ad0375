package booking

import (
	"strings"
	"testing"
	"time"
)

// extendEvents is DecideExtend's events, for tests of renewals without a key (never a replay).
func extendEvents(d ExtendDecision, err error) ([]Event, error) {
	if d.Replayed {
		panic("extendEvents: a replay") // only keyed renewals replay
	}
	return d.Events, err
}

// extendKeyed decides a renewal of user's hold id with key and applies it.
func extendKeyed(tb testing.TB, s *State, id, user, key string, now time.Time) (ExtendDecision, error) {
	tb.Helper()
	d, err := s.DecideExtend(ExtendHold{HoldID: id, UserID: user, IdempotencyKey: key}, now)
	if err == nil {
		MustApply(tb, s, d.Events)
	}
	return d, err
}

// renewedRoom is a resource (hold TTL a minute, MaxExtensions 2) where u1's hold h1, placed
// at t0, was renewed once with key r1 10 s later.
func renewedRoom(t *testing.T) *State {
	t.Helper()
	s := MustCreate(t, map[string]int64{"a": 5}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	d, err := extendKeyed(t, s, "h1", "u1", "r1", t0.Add(10*time.Second))
	wantCode(t, err, "")
	if d.Replayed || len(d.Events) != 1 || d.Events[0].(HoldExtended).IdempotencyKey != "r1" {
		t.Fatalf("first renewal %+v", d)
	}
	return s
}

func TestExtendRecordsKey(t *testing.T) {
	s := renewedRoom(t)
	ie, ok := s.Idempotency("r1")
	if !ok || ie.HoldID != "h1" || !ie.CreatedAt.Equal(t0.Add(10*time.Second)) || !strings.HasPrefix(ie.Fingerprint, extendFingerprintPrefix) {
		t.Fatalf("key entry %+v (%v)", ie, ok)
	}
	// Neither a hold's nor a join's fingerprint can be a renewal's.
	if hf := Fingerprint([]string{"h1"}, 0, "u1"); ie.Fingerprint == hf || ie.Fingerprint == joinFingerprint([]string{"h1"}, 0, "u1") {
		t.Fatalf("renewal fingerprint %q collides", ie.Fingerprint)
	}
	// '|' is escaped: user "u|1" renewing "h" is not user "u" renewing "1|h".
	if extendFingerprint("h", "u|1") == extendFingerprint("1|h", "u") {
		t.Fatal("fingerprints of different renewals are equal")
	}
	// Without a key nothing is recorded.
	before := len(s.idemLog)
	_, err := extendKeyed(t, s, "h1", "u1", "", t0.Add(20*time.Second))
	wantCode(t, err, "")
	if len(s.idemLog) != before {
		t.Fatalf("a renewal without a key recorded %v", s.idemLog)
	}
}

// TestExtendReplay: a retry with the key answers the hold as it is, renews nothing, and keeps
// replaying once that renewal spent the last extension, or the hold has ended since.
func TestExtendReplay(t *testing.T) {
	s := renewedRoom(t)
	retry := ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "r1"}
	want, _ := s.Hold("h1")
	before := observe(s)
	d, err := s.DecideExtend(retry, t0.Add(20*time.Second))
	wantCode(t, err, "")
	if !d.Replayed || len(d.Events) != 0 {
		t.Fatalf("retry %+v, want a replay without events", d)
	}
	wantUnchanged(t, s, before)
	if got, _ := s.Hold("h1"); got.Extensions != 1 || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("hold after the retry %+v, want %+v", got, want)
	}

	// A second renewal with a new key spends the last extension (MaxExtensions 2)...
	d, err = extendKeyed(t, s, "h1", "u1", "r2", t0.Add(30*time.Second))
	wantCode(t, err, "")
	if d.Replayed || len(d.Events) != 1 {
		t.Fatalf("second renewal %+v", d)
	}
	// ... a third is refused, with a new key or none ...
	_, err = s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "r3"}, t0.Add(31*time.Second))
	wantCode(t, err, CodeLimitExceeded)
	_, err = s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0.Add(31*time.Second))
	wantCode(t, err, CodeLimitExceeded)
	// ... and the retries of both renewals still replay.
	for _, key := range []string{"r1", "r2"} {
		d, err = s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: key}, t0.Add(32*time.Second))
		wantCode(t, err, "")
		if !d.Replayed || len(d.Events) != 0 {
			t.Fatalf("retry of %s at the limit: %+v", key, d)
		}
	}
	// Once the hold is confirmed, a retry answers it confirmed.
	MustTransition(t, s, "h1", true, t0.Add(40*time.Second))
	d, err = s.DecideExtend(retry, t0.Add(41*time.Second))
	wantCode(t, err, "")
	if !d.Replayed {
		t.Fatalf("retry of a confirmed hold's renewal %+v", d)
	}
	// A retry past the hold's deadline replays too: the renewal it repeats was made in time.
	s = renewedRoom(t)
	d, err = s.DecideExtend(retry, t0.Add(time.Hour))
	wantCode(t, err, "")
	if !d.Replayed {
		t.Fatalf("retry after the deadline %+v", d)
	}
}

// TestExtendKeyReused: the key of a renewal, of a hold or of a join is refused for any other
// request, and the refusal changes nothing.
func TestExtendKeyReused(t *testing.T) {
	s := renewedRoom(t)
	MustHold(t, s, "h2", 1, t0, "a")
	wantCode(t, holdAs(t, s, "h3", "u2", 1, t0, "a"), "")
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h4", UserID: "u1", Quantity: 1, Buckets: []string{"a"}, IdempotencyKey: "p1"}, t0)
	wantCode(t, err, "")
	MustApply(t, s, d.Events)
	before := observe(s)
	for name, cmd := range map[string]ExtendHold{
		"another hold":      {HoldID: "h2", UserID: "u1", IdempotencyKey: "r1"},
		"another user":      {HoldID: "h1", UserID: "u2", IdempotencyKey: "r1"},
		"another's hold":    {HoldID: "h3", UserID: "u2", IdempotencyKey: "r1"},
		"a placement's key": {HoldID: "h4", UserID: "u1", IdempotencyKey: "p1"},
	} {
		_, err := s.DecideExtend(cmd, t0.Add(20*time.Second))
		if code := ErrorCode(err); code != CodeIdempotencyMismatch {
			t.Errorf("%s: %v, want %s", name, err, CodeIdempotencyMismatch)
		}
	}
	// A renewal's key cannot place a hold or join a waitlist either.
	_, err = s.DecidePlaceHold(PlaceHold{HoldID: "h5", UserID: "u1", Quantity: 1, Buckets: []string{"a"}, IdempotencyKey: "r1"}, t0)
	wantCode(t, err, CodeIdempotencyMismatch)
	_, err = s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w1", OfferHoldID: "o-w1", UserID: "u1", Quantity: 1,
		Buckets: []string{"a"}, IdempotencyKey: "r1"}, t0)
	wantCode(t, err, CodeIdempotencyMismatch)
	// A key that is not valid is refused as invalid; an unknown resource is not found.
	_, err = s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "bad key\n"}, t0)
	wantCode(t, err, CodeInvalid)
	_, err = NewState("r9").DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "r1"}, t0)
	wantCode(t, err, CodeNotFound)
	wantUnchanged(t, s, before)
	if h, _ := s.Hold("h2"); h.Extensions != 0 {
		t.Fatalf("h2 renewed by a reused key: %+v", h)
	}
}

// TestExtendReplayAfterRestore: the entry a store keeps (what Idempotency returns after the
// renewal) is enough for a state restored from the store to replay, also when the hold has
// ended and is not loaded, as the activation decides such a retry (one terminal hold).
func TestExtendReplayAfterRestore(t *testing.T) {
	s := renewedRoom(t)
	ie, _ := s.Idempotency("r1")
	res, _ := s.Resource()
	h, _ := s.Hold("h1")
	retry := ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "r1"}
	r := Restore(res, s.Buckets(), []Hold{h}, []IdempotencyEntry{ie})
	d, err := r.DecideExtend(retry, t0.Add(20*time.Second))
	wantCode(t, err, "")
	if !d.Replayed || len(d.Events) != 0 {
		t.Fatalf("retry after a restore %+v", d)
	}
	// Without the key's entry the retry would renew again: the entry is what prevents it.
	d, err = Restore(res, s.Buckets(), []Hold{h}, nil).DecideExtend(retry, t0.Add(20*time.Second))
	wantCode(t, err, "")
	if d.Replayed || len(d.Events) != 1 {
		t.Fatalf("retry without the key %+v", d)
	}
	// The hold expired since: a retry still replays.
	h.Status = StatusExpired
	d, err = Restore(res, nil, []Hold{h}, []IdempotencyEntry{ie}).DecideExtend(retry, t0.Add(time.Hour))
	wantCode(t, err, "")
	if !d.Replayed {
		t.Fatalf("retry of an expired hold's renewal %+v", d)
	}
	// Pruned after IdempotencyRetention from the renewal, the key is forgotten like a hold's.
	r.PruneIdempotency(ie.CreatedAt.Add(time.Nanosecond))
	if _, ok := r.Idempotency("r1"); ok {
		t.Fatal("renewal key kept past its cutoff")
	}
}
