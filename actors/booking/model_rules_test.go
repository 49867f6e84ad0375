package booking

import (
	"slices"
	"strings"
	"time"
)

// The reference model's booking rules (renewals, allowances, per-user limits, the waitlist),
// written out again from the documentation of DecideExtend, Allowance, Resource.MaxPerUser
// and waitlist.go, with plain scans instead of the State's counters and indexes.

type refRules struct {
	maxExt     int
	units      int64 // allowance per bucket
	percent    int64 // allowance as a percentage
	maxPerUser int64
	offerTTL   time.Duration
}

func refValidRules(r refRules) bool {
	return r.maxExt >= 0 && r.maxExt <= 100 && r.units >= 0 && r.units <= 1<<40 && r.percent >= 0 && r.percent <= 100 &&
		(r.units == 0 || r.percent == 0) && r.maxPerUser >= 0 && r.maxPerUser <= 1<<40 &&
		(r.offerTTL == 0 || refValidTTL(r.offerTTL))
}

func refCreateRules(cmd CreateResource) (refRules, bool) {
	r := refRules{maxExt: 2, units: cmd.Allowance.Units, percent: cmd.Allowance.Percent, maxPerUser: cmd.MaxPerUser, offerTTL: time.Hour}
	if cmd.MaxExtensions != nil {
		r.maxExt = *cmd.MaxExtensions
	}
	if cmd.WaitlistOfferTTL != 0 {
		r.offerTTL = cmd.WaitlistOfferTTL
	}
	return r, refValidRules(r)
}

func (r refRules) updated(cmd UpdateResource) (refRules, bool) {
	if cmd.MaxExtensions != nil {
		r.maxExt = *cmd.MaxExtensions
	}
	if cmd.Allowance != nil {
		r.units, r.percent = cmd.Allowance.Units, cmd.Allowance.Percent
	}
	if cmd.MaxPerUser != nil {
		r.maxPerUser = *cmd.MaxPerUser
	}
	if cmd.WaitlistOfferTTL != nil {
		r.offerTTL = *cmd.WaitlistOfferTTL
	}
	return r, refValidRules(r)
}

// allowance is how far beyond capacity c a bucket may be sold.
func (r refRules) allowance(c int64) int64 {
	if r.percent > 0 {
		return c * r.percent / 100
	}
	return r.units
}

// limit is what bucket k may have held plus confirmed.
func (m *refModel) limit(k string) int64 { return m.caps[k] + m.rules.allowance(m.caps[k]) }

// userUnits sums quantity times buckets over the user's held and confirmed holds.
func (m *refModel) userUnits(user string) int64 {
	var n int64
	for _, h := range m.holds {
		if h.user == user && h.status.Active() {
			n += h.qty * int64(len(h.buckets))
		}
	}
	return n
}

func (m *refModel) withinLimit(user string, units int64) bool {
	return m.rules.maxPerUser == 0 || m.userUnits(user)+units <= m.rules.maxPerUser
}

// fits reports whether entry e could be held now.
func (m *refModel) fits(e *WaitlistEntry) bool {
	for _, k := range e.Buckets {
		if held, conf := m.used(k); m.limit(k)-held-conf < e.Quantity {
			return false
		}
	}
	return m.withinLimit(e.UserID, e.Quantity*int64(len(e.Buckets)))
}

// offer serves the waitlist, first come first served, skipping entries that do not fit; it
// returns the entries offered, in order.
func (m *refModel) offer(now time.Time) []string {
	var offered []string
	ttl := m.rules.offerTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	for _, e := range slices.Clone(m.waiting) {
		if _, taken := m.holds[e.OfferHoldID]; taken || !m.fits(e) {
			continue
		}
		m.holds[e.OfferHoldID] = &refHold{id: e.OfferHoldID, user: e.UserID, buckets: slices.Clone(e.Buckets), qty: e.Quantity,
			status: StatusHeld, expiresAt: now.Add(ttl), updatedAt: now, entry: e.ID}
		m.removeWaiting(e.ID)
		offered = append(offered, e.ID)
	}
	m.offered = append(m.offered, offered...)
	return offered
}

func (m *refModel) removeWaiting(id string) {
	m.waiting = slices.DeleteFunc(m.waiting, func(e *WaitlistEntry) bool { return e.ID == id })
}

// extend answers a renewal, and applies it. A renewal with a key the model knows (extend_replay.go) is a replay when the key renewed the
// same hold for the same user (replayed, no change), else a mismatch; a new key is recorded
// with a renewal that succeeds.
func (m *refModel) extend(cmd ExtendHold, now time.Time) (code string, until time.Time, replayed bool) {
	if !m.exists {
		return CodeNotFound, time.Time{}, false
	}
	if k := cmd.IdempotencyKey; k != "" {
		if len(k) > 128 || strings.ContainsFunc(k, func(r rune) bool { return r < ' ' || r > '~' }) {
			return CodeInvalid, time.Time{}, false
		}
		if e, ok := m.idem[k]; ok {
			if !e.extend || e.holdID != cmd.HoldID || e.user != cmd.UserID {
				return CodeIdempotencyMismatch, time.Time{}, false
			}
			return "", time.Time{}, true
		}
	}
	code, until = m.extendNew(cmd, now)
	if code == "" && cmd.IdempotencyKey != "" {
		m.idem[cmd.IdempotencyKey] = refIdem{user: cmd.UserID, holdID: cmd.HoldID, createdAt: now, extend: true}
	}
	return code, until, false
}

func (m *refModel) extendNew(cmd ExtendHold, now time.Time) (code string, until time.Time) {
	h, ok := m.holds[cmd.HoldID]
	switch {
	case !ok || h.user != cmd.UserID:
		return CodeNotFound, time.Time{}
	case h.status != StatusHeld || !now.Before(h.expiresAt):
		return CodeConflict, time.Time{}
	case h.extensions >= m.rules.maxExt:
		return CodeLimitExceeded, time.Time{}
	}
	until = now.Add(m.ttl)
	if h.expiresAt.After(until) {
		until = h.expiresAt
	}
	h.expiresAt, h.extensions, h.updatedAt = until, h.extensions+1, now
	return "", until
}

// refJoin is a join's answer: a refusal code, or the entry it answers with, Replayed; or,
// for a replay whose entry neither waits nor was offered a hold the model still has, the
// hold to look up first.
type refJoin struct {
	code, entry string
	replayed    bool
	lookup      string
}

// join answers a join. With an Idempotency-Key the model knows, it is a replay (rules in
// waitlist_replay.go): the key must have joined with the same request; its entry is answered
// while it waits or once offered, and conflict once it left.
func (m *refModel) join(cmd JoinWaitlist, now time.Time) refJoin {
	if !m.exists {
		return refJoin{code: CodeNotFound}
	}
	if k := cmd.IdempotencyKey; k != "" {
		if len(k) > 128 || strings.ContainsFunc(k, func(r rune) bool { return r < ' ' || r > '~' }) {
			return refJoin{code: CodeInvalid}
		}
		if e, ok := m.idem[k]; ok {
			return m.replayJoin(cmd, e)
		}
	}
	code := m.joinNew(cmd, now)
	if code == "" && cmd.IdempotencyKey != "" {
		m.idem[cmd.IdempotencyKey] = refIdem{sorted: slices.Sorted(slices.Values(cmd.Buckets)), qty: cmd.Quantity, user: cmd.UserID,
			holdID: cmd.OfferHoldID, createdAt: now, join: true}
	}
	return refJoin{code: code, entry: cmd.EntryID}
}

func (m *refModel) replayJoin(cmd JoinWaitlist, e refIdem) refJoin {
	sorted := slices.Sorted(slices.Values(cmd.Buckets))
	if len(cmd.Buckets) < 1 || len(cmd.Buckets) > 62 || len(slices.Compact(slices.Clone(sorted))) != len(cmd.Buckets) {
		return refJoin{code: CodeInvalid}
	}
	for _, k := range cmd.Buckets {
		if _, ok := m.caps[k]; !ok || !refValidKey(k) {
			return refJoin{code: CodeInvalid}
		}
	}
	if !e.join || e.qty != cmd.Quantity || e.user != cmd.UserID || !slices.Equal(e.sorted, sorted) {
		return refJoin{code: CodeIdempotencyMismatch}
	}
	if i := slices.IndexFunc(m.waiting, func(w *WaitlistEntry) bool { return w.OfferHoldID == e.holdID }); i >= 0 {
		return refJoin{entry: m.waiting[i].ID, replayed: true}
	}
	var offer *Hold
	if h, ok := m.holds[e.holdID]; ok {
		offer = &Hold{ID: h.id, ResourceID: m.id, WaitlistEntryID: h.entry}
	} else if !cmd.OfferLookedUp {
		return refJoin{lookup: e.holdID}
	} else {
		offer = cmd.Offer
	}
	if offer != nil && offer.ID == e.holdID && offer.ResourceID == m.id && offer.WaitlistEntryID != "" {
		return refJoin{entry: offer.WaitlistEntryID, replayed: true}
	}
	return refJoin{code: CodeConflict}
}

func (m *refModel) joinNew(cmd JoinWaitlist, now time.Time) string {
	_, holdTaken := m.holds[cmd.OfferHoldID]
	if !refValidID(cmd.EntryID, 128) || !refValidID(cmd.OfferHoldID, 128) || cmd.EntryID == cmd.OfferHoldID || holdTaken ||
		slices.ContainsFunc(m.waiting, func(e *WaitlistEntry) bool { return e.ID == cmd.EntryID || e.OfferHoldID == cmd.OfferHoldID }) {
		return CodeInternal
	}
	sorted := slices.Sorted(slices.Values(cmd.Buckets))
	if !refValidID(cmd.UserID, 128) || cmd.Quantity < 1 || cmd.Quantity > 1<<30 ||
		len(cmd.Buckets) < 1 || len(cmd.Buckets) > 62 || len(slices.Compact(sorted)) != len(cmd.Buckets) {
		return CodeInvalid
	}
	for _, k := range cmd.Buckets {
		if _, ok := m.caps[k]; !ok || !refValidKey(k) {
			return CodeInvalid
		}
	}
	switch {
	case slices.ContainsFunc(m.waiting, func(e *WaitlistEntry) bool { return e.UserID == cmd.UserID }):
		return CodeConflict
	case len(m.waiting) >= 10_000:
		return CodeLimitExceeded
	case !m.withinLimit(cmd.UserID, cmd.Quantity*int64(len(cmd.Buckets))):
		return CodeLimitExceeded
	}
	e := &WaitlistEntry{ID: cmd.EntryID, ResourceID: m.id, UserID: cmd.UserID, OfferHoldID: cmd.OfferHoldID,
		Buckets: slices.Clone(cmd.Buckets), Quantity: cmd.Quantity, Seq: m.seq + 1, CreatedAt: now}
	if m.fits(&WaitlistEntry{Buckets: e.Buckets, Quantity: e.Quantity}) { // units free: hold them instead
		return CodeConflict
	}
	m.seq++
	m.waiting = append(m.waiting, e)
	return ""
}

func (m *refModel) leave(cmd LeaveWaitlist) string {
	if !m.exists {
		return CodeNotFound
	}
	i := slices.IndexFunc(m.waiting, func(e *WaitlistEntry) bool { return e.ID == cmd.EntryID })
	if i < 0 || m.waiting[i].UserID != cmd.UserID {
		return CodeNotFound
	}
	m.removeWaiting(cmd.EntryID)
	return ""
}
