package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// worker is one simulated mobile client. It is used by one goroutine; its ledger is merged
// after the load phase.
type worker struct {
	r      *runner
	n      int
	rng    *rand.Rand
	seq    uint64
	user   string
	ts     client.TokenSource // the user's token; nil: none
	s      *sender            // set while run runs
	ledger ledger

	// body and bodyOf cache the last hold request's body: a flash-sale client sends the same
	// one every time.
	body   []byte
	bodyOf placeHoldOf
}

// placeHoldOf identifies a hold request body: the bucket keys (by their backing array, which
// sessions take from the runner's slices), the quantity and the user.
type placeHoldOf struct {
	keys *string
	n    int
	qty  int64
}

func newWorker(r *runner, n int) *worker {
	user := r.tokens.userName(r.cfg.RunID, n)
	return &worker{
		r:    r,
		n:    n,
		rng:  rand.New(rand.NewPCG(r.cfg.Seed, uint64(n))),
		user: user,
		ts:   r.tokens.user(user),
	}
}

// run plays sessions until a bound is reached, ctx is done, or (flash-sale) the client is
// answered sold_out.
func (w *worker) run(ctx context.Context) {
	r := w.r
	w.s = newSender(ctx, r.targets, &r.next, &r.cfg, w.ts, r.stats.countStatus)
	defer w.s.close()
	for ctx.Err() == nil && r.more() {
		switch r.cfg.Scenario {
		case ScenarioFlashSale:
			if w.flashSession(ctx) {
				return
			}
		case ScenarioHotel:
			w.hotelSession(ctx)
		case ScenarioBrowse:
			w.browse(ctx)
		case ScenarioMixed:
			switch p := w.rng.Float64(); {
			case p < 0.15 && !r.flashGone.Load():
				if w.flashSession(ctx) {
					r.flashGone.Store(true)
				}
			case p < 0.5:
				w.hotelSession(ctx)
			default:
				w.browse(ctx)
			}
		}
		w.think(ctx)
	}
}

// flashSession holds one unit of the hot resource, then confirms or cancels it. It reports
// whether the hold was answered sold_out.
func (w *worker) flashSession(ctx context.Context) (soldOut bool) {
	return w.session(ctx, w.r.flashID, w.r.flashKeys, 1, true)
}

// hotelSession holds 1..Nights consecutive nights of a random hotel, then confirms or
// cancels.
func (w *worker) hotelSession(ctx context.Context) {
	r := w.r
	rid := r.hotels[w.rng.IntN(len(r.hotels))]
	n := 1 + w.rng.IntN(r.cfg.Nights)
	start := w.rng.IntN(len(r.nights) - n + 1)
	w.session(ctx, rid, r.nights[start:start+n], 1, false)
}

// browse reads the availability of a random resource.
func (w *worker) browse(ctx context.Context) {
	r := w.r
	rid := r.readable[w.rng.IntN(len(r.readable))]
	res := w.call(OpAvailability, func() result {
		path := resourcePath(rid) + "/availability"
		a := w.s.send(http.MethodGet, path, "", nil, false)
		if a.res.Err == nil {
			var out wire.Availability
			if err := json.Unmarshal(a.resp.Body, &out); err != nil {
				a.res.Err = fmt.Errorf("GET %s: decode %d answer from %s: %w", path, a.res.Status, a.base, err)
			}
		}
		return a.res
	})
	if res.Status == http.StatusOK && res.Err == nil {
		r.reads.Add(1)
		return
	}
	r.fail("availability "+rid, res)
}

// session holds qty units of keys on rid with a fresh Idempotency-Key, then confirms the
// hold or cancels it (CancelRatio) unless HoldOnly, recording what the client was told in its ledger.
func (w *worker) session(ctx context.Context, rid string, keys []string, qty int64, flash bool) (soldOut bool) {
	r := w.r
	idem := w.nextKey()
	var holdID string
	body := w.holdBody(keys, qty)
	res := w.call(OpHold, func() result {
		path := resourcePath(rid) + "/holds"
		a := w.s.send(http.MethodPost, path, idem, body, true)
		if a.res.Err == nil {
			var err error
			if holdID, err = holdIDOf(a.resp.Body); err != nil {
				a.res.Err = fmt.Errorf("POST %s: decode %d answer from %s: %w", path, a.res.Status, a.base, err)
			}
		}
		return a.res
	})
	switch res.outcome() {
	case outcomeOK:
		if res.Err != nil || holdID == "" {
			if res.Err == nil {
				res.Err = errNoHoldID
			}
			r.fail("hold "+rid, res)
			w.ledger.Unknown = append(w.ledger.Unknown, unknownHold{idem, rid, w.user, keys, qty})
			return false
		}
	case outcomeRejected:
		if res.Status == http.StatusConflict && res.Code == "sold_out" {
			r.soldOut.Add(1)
			return true
		}
		r.fail("hold "+rid, res)
		return false
	default:
		r.fail("hold "+rid, res)
		w.ledger.Unknown = append(w.ledger.Unknown, unknownHold{idem, rid, w.user, keys, qty})
		return false
	}
	r.holds.Add(1)
	if flash {
		r.sold.Add(qty)
	}
	h := ackedHold{ID: holdID, ResourceID: rid, Buckets: keys, Quantity: qty, State: stateHeld}
	defer func() { w.ledger.Acked = append(w.ledger.Acked, h) }()
	if r.cfg.HoldOnly {
		return false
	}

	w.think(ctx)
	op := OpConfirm
	if w.rng.Float64() < r.cfg.CancelRatio {
		op = OpCancel
	}
	res = w.call(op, func() result {
		// The answer (the hold) is not decoded: a 2xx is all the session needs.
		return w.s.send(http.MethodPost, holdPath(rid, holdID)+"/"+op, "", nil, false).res
	})
	switch res.outcome() {
	case outcomeOK:
		if op == OpCancel {
			h.State = stateCancelled
			r.cancels.Add(1)
			if flash {
				r.sold.Add(-qty)
			}
		} else {
			h.State = stateConfirmed
			r.confirms.Add(1)
		}
	case outcomeAmbiguous:
		h.State = stateUncertain
		r.fail(op+" "+holdID, res)
	default:
		// Refused: the hold may have expired meanwhile; the audit accepts either.
		h.State = stateUncertain
		r.fail(op+" "+holdID, res)
	}
	return false
}

// call sends one logical request of kind op (do makes it, retries included) and accounts
// for it.
func (w *worker) call(op string, do func() result) result {
	r := w.r
	r.issued.Add(1)
	start := time.Now()
	res := do()
	r.stats.observe(op, time.Since(start))
	r.ops.Add(1)
	r.retries.Add(int64(res.Retries))
	return res
}

// holdBody returns the JSON body of a hold of qty units of keys, as api/client encodes it.
func (w *worker) holdBody(keys []string, qty int64) []byte {
	of := placeHoldOf{n: len(keys), qty: qty}
	if len(keys) > 0 {
		of.keys = &keys[0]
	}
	if w.body == nil || of != w.bodyOf {
		w.body, _ = json.Marshal(wire.PlaceHold{Buckets: keys, Quantity: qty, UserID: w.user}) // cannot fail
		w.bodyOf = of
	}
	return w.body
}

// resourcePath and holdPath are api/client's paths of a resource and a hold.
func resourcePath(rid string) string { return "/v1/resources/" + url.PathEscape(rid) }

func holdPath(rid, hid string) string { return resourcePath(rid) + "/holds/" + url.PathEscape(hid) }

// nextKey returns a fresh Idempotency-Key, unique across runs by RunID.
func (w *worker) nextKey() string {
	w.seq++
	b := make([]byte, 0, len(w.r.cfg.RunID)+24)
	b = append(b, w.r.cfg.RunID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(w.n), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, w.seq, 10)
	return string(b)
}

// think pauses for ThinkTime, uniformly jittered in 0.5x..1.5x.
func (w *worker) think(ctx context.Context) {
	t := w.r.cfg.ThinkTime
	if t <= 0 {
		return
	}
	_ = sleepCtx(ctx, t/2+time.Duration(w.rng.Int64N(int64(t)+1)))
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
