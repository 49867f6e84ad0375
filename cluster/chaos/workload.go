package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Workload is Clients concurrent clients, each a goroutine issuing one operation at a time
// against a random resource through random nodes: holds (with a fresh Idempotency-Key each),
// confirms, cancels, renewals (half of them with a fresh Idempotency-Key, re-sent with it
// once after an unknown outcome and sometimes after an ok, and now and then sent to renew
// another hold of the same resource, which must be refused) and gets of its own holds,
// availability reads, and waitlist entries for users of its own (join, with a fresh
// Idempotency-Key each, leave, and gets of the hold an entry is offered as, which then
// becomes one of its holds). Every operation is recorded in History. A client addresses only holds it placed itself, so the operations on
// one hold are sequential and in invocation order.
type Workload struct {
	Client    *Client
	History   *History
	Resources []*ResourceSpec
	Clients   int
	Seed      int64
	Think     time.Duration // upper bound of a client's random pause between operations
	// ShortBudget, when set, is the retry budget of one operation in ten (the others use
	// Client.Budget): an impatient client, whose operations end unknown during faults, so
	// that the history has outcomes the checker must treat as "maybe, at any time later".
	ShortBudget time.Duration

	stop atomic.Bool
	wg   sync.WaitGroup
}

// Start launches the clients.
func (w *Workload) Start(ctx context.Context) {
	for c := 0; c < w.Clients; c++ {
		w.wg.Add(1)
		go func(c int) {
			defer w.wg.Done()
			w.client(ctx, c)
		}(c)
	}
}

// Stop lets every client finish its current operation (bounded by the client's budget) and
// waits for them. Safe twice.
func (w *Workload) Stop() {
	w.stop.Store(true)
	w.wg.Wait()
}

// ownHold is a hold a client placed and may still confirm, cancel or read. status is the
// last status the client was told ("" after an unknown outcome).
type ownHold struct {
	spec    *ResourceSpec
	key, id string
	user    string // its owner, who renews it
	offer   bool   // offered from the waitlist (key is the entry's)
	buckets []string
	qty     int64
	status  string
	// renewals bounds how often the hold may have been renewed: one per key of a keyed
	// renewal acknowledged or unknown (however often it was sent), one per attempt of a
	// renewal without a key that may have applied.
	renewals int
}

// mayRenew counts op, a renewal of h, into h.renewals; a re-send of a keyed renewal already
// counted (resent) adds nothing.
func (h *ownHold) mayRenew(op *Op, resent bool) {
	switch {
	case op.RenewKey != "":
		if !resent && (op.Result == ResultOK || op.Result == ResultUnknown) {
			h.renewals++
		}
	case op.Result == ResultOK || op.Result == ResultUnknown:
		h.renewals += max(1, op.Tries)
	case op.Uncertain:
		h.renewals += max(0, op.Tries-1)
	}
}

// checkRenewals makes an ok answer about h an error when it reports more renewals than h
// may have had or than max_extensions: a keyed renewal applied twice, say. A stale answer
// is checked too: it may be out of date, never ahead.
func (h *ownHold) checkRenewals(op *Op) {
	if op.Result != ResultOK {
		return
	}
	if op.Extensions > h.renewals || op.Extensions > h.spec.maxExtensions() {
		op.Result, op.Err = ResultError, fmt.Sprintf("hold %s reports %d renewals, at most %d sent (max_extensions %d)",
			h.id, op.Extensions, h.renewals, h.spec.maxExtensions())
	}
}

// ownEntry is a waitlist entry a client joined for a user of its own, until its hold is seen
// offered (then it is an ownHold) or it left.
type ownEntry struct {
	spec                *ResourceSpec
	key, id, hold, user string
	buckets             []string
	qty                 int64
}

// maxEntries bounds a client's waiting entries.
const maxEntries = 2

// A client keeps at most maxLiveHolds holds that are not known to be cancelled (beyond it,
// it cancels instead of placing more, so that capacity keeps churning) and its last
// maxDeadHolds cancelled ones, on which it sometimes repeats a confirm (expecting conflict)
// or a cancel (expecting ok): answers that the resource gives without a commit, from memory.
const (
	maxLiveHolds = 4
	maxDeadHolds = 2
)

func (w *Workload) client(ctx context.Context, c int) {
	rng := rand.New(rand.NewSource(w.Seed*7919 + int64(c)))
	patient, impatient := w.Client, *w.Client
	impatient.Budget = w.ShortBudget
	var live, dead []*ownHold
	var waits []*ownEntry
	for i := 0; !w.stop.Load() && ctx.Err() == nil; i++ {
		cl := patient
		if w.ShortBudget > 0 && rng.Intn(10) == 0 {
			cl = &impatient
		}
		roll := rng.Intn(100)
		var pick *ownHold
		j := -1
		if len(live) > 0 {
			j = rng.Intn(len(live))
			pick = live[j]
		}
		kind := KindRead
		switch {
		case roll < 5 && len(dead) > 0:
			// Repeat a transition on a cancelled hold.
			h := dead[rng.Intn(len(dead))]
			k := KindConfirm
			if rng.Intn(2) == 0 {
				k = KindCancel
			}
			w.transition(ctx, cl, rng, c, h, k, true)
			continue
		case roll >= 5 && roll < 10:
			var offered *ownHold
			waits, offered = w.waitlist(ctx, cl, rng, c, i, waits)
			if offered != nil {
				live = append(live, offered)
			}
			continue
		case pick == nil && roll < 60:
			kind = KindHold
		case pick == nil:
		case roll < 35 && len(live) < maxLiveHolds:
			kind = KindHold
		case roll < 35, roll >= 50 && roll < 70:
			kind = KindCancel
		case roll < 50:
			kind = KindConfirm
		case roll >= 70 && roll < 78:
			kind = KindExtend
		case roll >= 90:
			kind = KindGet
		}
		switch kind {
		case KindHold:
			if h := w.hold(ctx, cl, rng, c, i); h != nil {
				live = append(live, h)
			}
		case KindConfirm, KindCancel:
			op := w.transition(ctx, cl, rng, c, pick, kind, kind == KindConfirm && pick.status == "confirmed")
			switch {
			case op.Result == ResultUnknown:
				pick.status = ""
			case op.Result == ResultOK:
				pick.status = op.Status
			case op.Result == ResultConflict:
				pick.status = "cancelled"
			}
			if pick.status == "cancelled" || op.Result == ResultNotFound {
				live = append(live[:j], live[j+1:]...)
				dead = append(dead, pick)
				if len(dead) > maxDeadHolds {
					dead = dead[1:]
				}
			}
		case KindGet:
			w.get(ctx, cl, rng, c, pick)
		case KindExtend:
			op := w.extend(ctx, cl, rng, c, i, pick)
			if op.Result == ResultConflict {
				pick.status = "" // confirmed or cancelled meanwhile: the next transition tells
			}
			if op.RenewKey != "" && op.Result == ResultOK && rng.Intn(2) == 0 {
				if other := otherHold(live, pick); other != nil {
					w.reuseRenewalKey(ctx, cl, rng, c, other, op.RenewKey)
				}
			}
		default:
			w.read(ctx, cl, rng, c, w.Resources[rng.Intn(len(w.Resources))])
		}
		if w.Think > 0 {
			sleepCtx(ctx, time.Duration(rng.Int63n(int64(w.Think))))
		}
	}
}

func (w *Workload) hold(ctx context.Context, cl *Client, rng *rand.Rand, c, i int) *ownHold {
	spec := w.Resources[rng.Intn(len(w.Resources))]
	var buckets []string
	for len(buckets) == 0 {
		for _, b := range spec.Buckets {
			if rng.Intn(2) == 0 {
				buckets = append(buckets, b)
			}
		}
	}
	qty := int64(1)
	if rng.Intn(4) == 0 {
		qty = 2
	}
	op := &Op{Client: c, Kind: KindHold, Resource: spec.ID, Key: fmt.Sprintf("s%d-c%d-%d", w.Seed, c, i), Buckets: buckets, Qty: qty}
	w.History.Begin(op)
	a := cl.Do(ctx, rng, http.MethodPost, resourcePath(spec.ID)+"/holds", op.Key,
		map[string]any{"buckets": buckets, "quantity": qty, "user_id": fmt.Sprintf("u%d", c)})
	w.History.End(op)
	a.fill(op, http.StatusCreated)
	if op.Result != ResultOK {
		return nil
	}
	return &ownHold{spec: spec, key: op.Key, id: op.HoldID, user: fmt.Sprintf("u%d", c), buckets: buckets, qty: qty, status: op.Status}
}

// waitlist joins a waitlist for a new user of the client's (when it has fewer than
// maxEntries), or leaves one of its entries, or asks for the hold an entry is offered as. It
// returns the entries left and the hold of an entry seen offered.
func (w *Workload) waitlist(ctx context.Context, cl *Client, rng *rand.Rand, c, i int, waits []*ownEntry) ([]*ownEntry, *ownHold) {
	if len(waits) < maxEntries && (len(waits) == 0 || rng.Intn(2) == 0) {
		spec := w.Resources[rng.Intn(len(w.Resources))]
		buckets := []string{spec.Buckets[rng.Intn(len(spec.Buckets))]}
		qty := int64(1 + rng.Intn(2))
		user := fmt.Sprintf("w%d-%d", c, i)
		// The op's key is the join's Idempotency-Key, as a hold's: retries reuse it.
		op := &Op{Client: c, Kind: KindJoin, Resource: spec.ID, Key: fmt.Sprintf("s%d-c%d-w%d", w.Seed, c, i), Buckets: buckets, Qty: qty, Keyed: true}
		w.History.Begin(op)
		a := cl.Do(ctx, rng, http.MethodPost, resourcePath(spec.ID)+"/waitlist", op.Key,
			map[string]any{"buckets": buckets, "quantity": qty, "user_id": user})
		w.History.End(op)
		a.fill(op, http.StatusCreated)
		if op.Result == ResultOK {
			waits = append(waits, &ownEntry{spec: spec, key: op.Key, id: op.Entry, hold: op.HoldID, user: user, buckets: buckets, qty: qty})
		}
		return waits, nil
	}
	j := rng.Intn(len(waits))
	e := waits[j]
	drop := func() []*ownEntry { return append(waits[:j:j], waits[j+1:]...) }
	base := &Op{Client: c, Resource: e.spec.ID, Key: e.key, HoldID: e.hold, Entry: e.id, Buckets: e.buckets, Qty: e.qty, Offer: true}
	if rng.Intn(3) == 0 {
		op := *base
		op.Kind = KindLeave
		w.History.Begin(&op)
		a := cl.Do(ctx, rng, http.MethodDelete, resourcePath(e.spec.ID)+"/waitlist/"+url.PathEscape(e.id)+"?user_id="+url.QueryEscape(e.user), "", nil)
		w.History.End(&op)
		a.fill(&op, http.StatusOK)
		op.HoldID, op.Entry = e.hold, e.id
		if op.Result == ResultOK || op.Result == ResultUnknown {
			return drop(), nil // left, or may have: the entry is given up
		}
		return waits, nil // not_found: offered meanwhile, a get will find its hold
	}
	op := *base
	op.Kind = KindGet
	w.History.Begin(&op)
	a := cl.Do(ctx, rng, http.MethodGet, resourcePath(e.spec.ID)+"/holds/"+url.PathEscape(e.hold), "", nil)
	w.History.End(&op)
	a.fill(&op, http.StatusOK)
	op.HoldID = e.hold
	if op.Result != ResultOK {
		return waits, nil
	}
	return drop(), &ownHold{spec: e.spec, key: e.key, id: e.hold, user: e.user, offer: true, buckets: e.buckets, qty: e.qty, status: op.Status}
}

// extend renews h for its owner. Every other renewal carries an Idempotency-Key of its own
// (RenewKey); one whose outcome stays unknown is sent once more with the same key, as a
// mobile app retries when the user taps again, so that the history has keyed renewals whose
// earlier attempts the server must not apply a second time. One acknowledged in four is
// re-sent too (an app that lost the answer on its side, killed before it stored it): that
// re-send must be answered as a replay.
func (w *Workload) extend(ctx context.Context, cl *Client, rng *rand.Rand, c, i int, h *ownHold) *Op {
	var key string
	if rng.Intn(2) == 0 {
		key = fmt.Sprintf("s%d-c%d-x%d", w.Seed, c, i)
	}
	op := w.extendOnce(ctx, cl, rng, c, h, key, false, false)
	if key == "" || w.stop.Load() || ctx.Err() != nil {
		return op
	}
	switch {
	case op.Result == ResultUnknown:
		op = w.extendOnce(ctx, cl, rng, c, h, key, false, true)
	case op.Result == ResultOK && rng.Intn(4) == 0:
		op = w.extendOnce(ctx, cl, rng, c, h, key, true, true)
	}
	return op
}

// extendOnce sends one renewal op. An ok answer must name the hold renewed, only a keyed
// renewal may be answered as a replay, and a re-send of one acknowledged (acked) must be:
// otherwise the op is an error, which fails the check.
func (w *Workload) extendOnce(ctx context.Context, cl *Client, rng *rand.Rand, c int, h *ownHold, key string, acked, resent bool) *Op {
	op := w.sendRenewal(ctx, cl, rng, c, h, key)
	if op.Result == ResultOK {
		switch {
		case op.HoldID != h.id:
			op.Result, op.Err = ResultError, fmt.Sprintf("renewal of %s answered hold %s", h.id, op.HoldID)
		case op.Replayed && key == "":
			op.Result, op.Err = ResultError, "renewal without a key answered as a replay"
		case acked && !op.Replayed:
			op.Result, op.Err = ResultError, "renewal re-sent with the key of an acknowledged one renewed again"
		}
	}
	h.mayRenew(op, resent)
	h.checkRenewals(op)
	op.HoldID = h.id
	return op
}

// sendRenewal sends a renewal of h by its owner with Idempotency-Key key (none if empty),
// recorded in the history, and returns its op with the answer filled in.
func (w *Workload) sendRenewal(ctx context.Context, cl *Client, rng *rand.Rand, c int, h *ownHold, key string) *Op {
	op := &Op{Client: c, Kind: KindExtend, Resource: h.spec.ID, Key: h.key, HoldID: h.id, Buckets: h.buckets, Qty: h.qty, Offer: h.offer, RenewKey: key}
	w.History.Begin(op)
	a := cl.Do(ctx, rng, http.MethodPost, resourcePath(h.spec.ID)+"/holds/"+url.PathEscape(h.id)+"/extend?user_id="+url.QueryEscape(h.user), key, nil)
	w.History.End(op)
	a.fill(op, http.StatusOK)
	return op
}

// otherHold is a hold of live on h's resource other than h, nil if there is none.
func otherHold(live []*ownHold, h *ownHold) *ownHold {
	for _, o := range live {
		if o != h && o.spec == h.spec && o.id != h.id {
			return o
		}
	}
	return nil
}

// reuseRenewalKey sends key, which has just renewed another hold of h's resource, to renew
// h: a client bug (one key for two requests) the server must refuse as
// idempotency_mismatch without renewing h. An ok answer fails the check; an unknown one
// counts as a renewal h may have had, so that the bound checkRenewals applies stays an
// upper bound (the model decides whether it applied).
func (w *Workload) reuseRenewalKey(ctx context.Context, cl *Client, rng *rand.Rand, c int, h *ownHold, key string) *Op {
	op := w.sendRenewal(ctx, cl, rng, c, h, key)
	if op.Result == ResultOK {
		op.Result, op.Err = ResultError, fmt.Sprintf("renewal key %s of another hold renewed %s", key, h.id)
	}
	h.mayRenew(op, false)
	op.HoldID = h.id
	return op
}

func (w *Workload) transition(ctx context.Context, cl *Client, rng *rand.Rand, c int, h *ownHold, kind Kind, repeat bool) *Op {
	op := &Op{Client: c, Kind: kind, Resource: h.spec.ID, Key: h.key, HoldID: h.id, Buckets: h.buckets, Qty: h.qty, Repeat: repeat, Offer: h.offer}
	w.History.Begin(op)
	a := cl.Do(ctx, rng, http.MethodPost, resourcePath(h.spec.ID)+"/holds/"+url.PathEscape(h.id)+"/"+string(kind), "", nil)
	w.History.End(op)
	a.fill(op, http.StatusOK)
	op.HoldID = h.id // the answer's id, if any, is the same
	return op
}

func (w *Workload) read(ctx context.Context, cl *Client, rng *rand.Rand, c int, spec *ResourceSpec) *Op {
	op := &Op{Client: c, Kind: KindRead, Resource: spec.ID}
	w.History.Begin(op)
	a := cl.Do(ctx, rng, http.MethodGet, resourcePath(spec.ID)+"/availability", "", nil)
	w.History.End(op)
	a.fill(op, http.StatusOK)
	return op
}

func (w *Workload) get(ctx context.Context, cl *Client, rng *rand.Rand, c int, h *ownHold) *Op {
	op := &Op{Client: c, Kind: KindGet, Resource: h.spec.ID, Key: h.key, HoldID: h.id, Buckets: h.buckets, Qty: h.qty, Offer: h.offer}
	w.History.Begin(op)
	a := cl.Do(ctx, rng, http.MethodGet, resourcePath(h.spec.ID)+"/holds/"+url.PathEscape(h.id), "", nil)
	w.History.End(op)
	a.fill(op, http.StatusOK)
	h.checkRenewals(op)
	op.HoldID = h.id
	return op
}

// FinalReads reads every resource through every endpoint, one after the other, as client
// number Clients. Run once the cluster is quiet and healed, they pin down the final state.
func (w *Workload) FinalReads(ctx context.Context) {
	rng := rand.New(rand.NewSource(w.Seed))
	for _, ep := range w.Client.Endpoints {
		one := *w.Client
		one.Endpoints = []Endpoint{ep}
		for _, spec := range w.Resources {
			op := &Op{Client: w.Clients, Kind: KindRead, Resource: spec.ID}
			w.History.Begin(op)
			a := one.Do(ctx, rng, http.MethodGet, resourcePath(spec.ID)+"/availability", "", nil)
			w.History.End(op)
			a.fill(op, http.StatusOK)
		}
	}
}

func resourcePath(rid string) string { return "/v1/resources/" + url.PathEscape(rid) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
