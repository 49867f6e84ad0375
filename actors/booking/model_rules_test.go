package booking

import (
	"slices"
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

func (m *refModel) extend(cmd ExtendHold, now time.Time) (code string, until time.Time) {
	if !m.exists {
		return CodeNotFound, time.Time{}
	}
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

func (m *refModel) join(cmd JoinWaitlist, now time.Time) string {
	if !m.exists {
		return CodeNotFound
	}
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
