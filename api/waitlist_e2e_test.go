package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// TestWaitlistFlashSale is issue 16's end-to-end proof, through the HTTP edge against the real
// resource actor and store: 100 clients chase 10 seats at once; 40 of those who lost join the
// waitlist at once; 5 holders cancel, one after another, and each cancellation offers its seat
// to the first waiting user, in line order, as the hold the entry named; no seat is offered
// twice (never more than 10 live holds). Then the offers lapse and move on to the next 5.
func TestWaitlistFlashSale(t *testing.T) {
	const (
		seats, clients, waiters, cancels = 10, 100, 40, 5
		offerTTL                         = 5 * time.Minute
	)
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", fmt.Sprintf(`{"id":"flash","name":"Flash sale","buckets":{"all":%d},"hold_ttl":"10m","waitlist_offer_ttl":"%s"}`,
		seats, wire.FormatDuration(offerTTL))), http.StatusCreated, nil)

	// The chase.
	type result struct {
		user string
		code int
		hold wire.Hold
		body string
	}
	chase := make([]result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			u := fmt.Sprintf("u-%03d", i)
			rec := e.do("POST", "/v1/resources/flash/holds", `{"buckets":["all"],"quantity":1}`,
				append(e.as(u), IdempotencyKeyHeader, "k-"+u)...)
			chase[i] = result{user: u, code: rec.Code, body: rec.Body.String()}
			if rec.Code == http.StatusCreated {
				chase[i].hold = decodeHold(t, rec.Body.Bytes())
			}
		})
	}
	wg.Wait()
	var holders []result
	var losers []string
	for _, r := range chase {
		switch r.code {
		case http.StatusCreated:
			holders = append(holders, r)
		case http.StatusConflict:
			losers = append(losers, r.user)
		default:
			t.Fatalf("%s: %d %s", r.user, r.code, r.body)
		}
	}
	if len(holders) != seats || len(losers) != clients-seats {
		t.Fatalf("%d holders and %d refused, want %d and %d", len(holders), len(losers), seats, clients-seats)
	}

	// 40 of the losers join the waitlist at once; the actor puts them in one line.
	entries := make([]wire.WaitlistEntry, waiters)
	for i := range waiters {
		wg.Go(func() {
			rec := e.do("POST", "/v1/resources/flash/waitlist", `{"buckets":["all"],"quantity":1}`, e.as(losers[i])...)
			if rec.Code != http.StatusCreated {
				t.Errorf("join %s: %d %s", losers[i], rec.Code, rec.Body)
				return
			}
			entries[i] = decodeEntry(t, rec.Body.Bytes())
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Position < entries[j].Position })
	for i, en := range entries {
		if en.Position != i+1 {
			t.Fatalf("positions %v are not 1..%d", positions(entries), waiters)
		}
	}
	checkPositions(t, e, entries, 0)

	// Cancellations, one after another: the k-th offers its seat to the k-th in line.
	for k := range cancels {
		e.ok(e.do("POST", "/v1/resources/flash/holds/"+holders[k].hold.ID+"/cancel", "", e.as(holders[k].user)...), http.StatusOK, nil)
		checkOffers(t, e, entries, 0, k+1, e.clock.Now().Add(offerTTL))
		checkPositions(t, e, entries, k+1)
	}
	checkSeats(t, e, seats)

	// The offers lapse unanswered: each expiry offers the seat to the next in line.
	e.clock.Advance(offerTTL + time.Second)
	// Asking for the 6th entry's offer runs the due expiries first and waits for their commit.
	var next wire.Hold
	e.ok(e.do("GET", "/v1/resources/flash/holds/"+entries[cancels].OfferHoldID, ""), http.StatusOK, &next)
	for _, en := range entries[:cancels] {
		var h wire.Hold
		e.ok(e.do("GET", "/v1/resources/flash/holds/"+en.OfferHoldID, ""), http.StatusOK, &h)
		if h.Status != wire.HoldExpired {
			t.Fatalf("lapsed offer %s is %s", h.ID, h.Status)
		}
	}
	checkOffers(t, e, entries, cancels, 2*cancels, e.clock.Now().Add(offerTTL))
	checkPositions(t, e, entries, 2*cancels)
	checkSeats(t, e, seats)
}

// checkOffers asserts that entries[from:to] hold their offers, live until `until`, and that no
// entry after them has one.
func checkOffers(t *testing.T, e *testEnv, entries []wire.WaitlistEntry, from, to int, until time.Time) {
	t.Helper()
	for i, en := range entries[from:] {
		rec := e.do("GET", "/v1/resources/flash/holds/"+en.OfferHoldID, "")
		if from+i >= to {
			mustProblem(t, rec, http.StatusNotFound, "not-found")
			continue
		}
		var h wire.Hold
		e.ok(rec, http.StatusOK, &h)
		if h.Status != wire.HoldHeld || h.UserID != en.UserID || h.WaitlistEntryID != en.ID || h.Quantity != 1 ||
			h.ExpiresAt == nil || h.ExpiresAt.After(until) {
			t.Fatalf("offer to position %d: %+v", en.Position, h)
		}
	}
}

// checkPositions asserts what GET /v1/me/waitlist tells each user still waiting after the
// first offered entries left the line.
func checkPositions(t *testing.T, e *testEnv, entries []wire.WaitlistEntry, offered int) {
	t.Helper()
	for i, en := range entries {
		var mine wire.WaitlistList
		e.ok(e.do("GET", "/v1/me/waitlist", "", e.as(en.UserID)...), http.StatusOK, &mine)
		switch {
		case i < offered && len(mine.Entries) != 0:
			t.Fatalf("%s was offered a seat yet still waits: %+v", en.UserID, mine)
		case i >= offered && (len(mine.Entries) != 1 || mine.Entries[0].ID != en.ID || mine.Entries[0].Position != i+1-offered):
			t.Fatalf("%s: %+v, want entry %s at position %d", en.UserID, mine, en.ID, i+1-offered)
		}
	}
}

// checkSeats asserts that the seats are all taken, none twice: as many live holds as seats,
// each of a different user, and the bucket agrees.
func checkSeats(t *testing.T, e *testEnv, seats int) {
	t.Helper()
	var list wire.HoldList
	e.ok(e.do("GET", "/v1/resources/flash/holds?status=held&limit=1000", ""), http.StatusOK, &list)
	users := map[string]bool{}
	for _, h := range list.Holds {
		users[h.UserID] = true
	}
	if len(list.Holds) != seats || len(users) != seats {
		t.Fatalf("%d live holds of %d users, want %d", len(list.Holds), len(users), seats)
	}
	var a wire.Availability
	e.ok(e.do("GET", "/v1/resources/flash/availability", ""), http.StatusOK, &a)
	if b := a.Buckets["all"]; b.Held != int64(seats) || b.Available != 0 {
		t.Fatalf("bucket %+v", b)
	}
}

func positions(es []wire.WaitlistEntry) []int {
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = e.Position
	}
	return out
}

func decodeHold(t *testing.T, body []byte) wire.Hold {
	var h wire.Hold
	if err := json.Unmarshal(body, &h); err != nil {
		t.Errorf("decode hold %s: %v", body, err)
	}
	return h
}

func decodeEntry(t *testing.T, body []byte) wire.WaitlistEntry {
	var en wire.WaitlistEntry
	if err := json.Unmarshal(body, &en); err != nil {
		t.Errorf("decode entry %s: %v", body, err)
	}
	return en
}
