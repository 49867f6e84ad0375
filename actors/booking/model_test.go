package booking

import (
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// refModel is a deliberately naive reference for State: plain maps, no counters, no index.
// Bucket usage is recomputed by scanning every hold, and the rules are written out again
// from the documentation rather than shared with the implementation.
type refModel struct {
	id     string
	exists bool
	name   string
	ttl    time.Duration
	caps   map[string]int64
	holds  map[string]*refHold
	idem   map[string]refIdem
	rules  refRules
	// waiting are the waitlist entries in first-come order; seq is the last Seq handed out.
	waiting []*WaitlistEntry
	seq     uint64
	offered []string // entries offered since the simulation last looked
	// gone are the holds restore dropped (terminal ones): what a store still has, for a
	// join replay's lookup of its offer hold.
	gone map[string]*refHold
}

type refHold struct {
	id, user, key        string
	buckets              []string
	qty                  int64
	status               Status
	expiresAt, updatedAt time.Time
	extensions           int
	entry                string // the waitlist entry it was offered to
}

type refIdem struct {
	sorted    []string // the request's buckets, sorted
	qty       int64
	user      string
	holdID    string // for a join: the entry's offer hold
	createdAt time.Time
	join      bool // the key joined the waitlist
	extend    bool // the key renewed hold holdID of user (sorted and qty unset)
}

func newRefModel(id string) *refModel {
	return &refModel{id: id, caps: map[string]int64{}, holds: map[string]*refHold{}, idem: map[string]refIdem{}}
}

// Validity rules, from the doc comments of ValidID, ValidBucketKey and the API limits.

func refValidID(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || strings.Trim(s, ".") == "" && len(s) <= 2 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '!' || c > '~' || strings.IndexByte("/?#%", c) >= 0 {
			return false
		}
	}
	return true
}

func refValidKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '!' || c > '~' || strings.IndexByte(`,"\`, c) >= 0 {
			return false
		}
	}
	// Four digits and '-' make a date: it must be a real day or minute slot.
	if len(s) >= 5 && s[4] == '-' && strings.Trim(s[:4], "0123456789") == "" {
		d, err1 := time.Parse("2006-01-02", s)
		m, err2 := time.Parse("2006-01-02T15:04", s)
		return (err1 == nil && d.Format("2006-01-02") == s) || (err2 == nil && m.Format("2006-01-02T15:04") == s)
	}
	return true
}

func refValidName(s string) bool {
	return s != "" && len(s) <= 256 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x61c || r == 0x200e || r == 0x200f ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	})
}

func refValidTTL(d time.Duration) bool {
	return d >= time.Second && d <= 7*24*time.Hour && d%time.Millisecond == 0
}

// refValidCurrency knows a sample of the ISO 4217 table: the simulation draws only these.
func refValidCurrency(s string) bool { return slices.Contains([]string{"EUR", "USD", "JPY", "CHF"}, s) }

func refValidCap(c int64) bool { return c >= 0 && c <= 1<<40 }

// used returns the held and confirmed sums for key by scanning all holds.
func (m *refModel) used(key string) (held, confirmed int64) {
	for _, h := range m.holds {
		if !slices.Contains(h.buckets, key) {
			continue
		}
		switch h.status {
		case StatusHeld:
			held += h.qty
		case StatusConfirmed:
			confirmed += h.qty
		}
	}
	return held, confirmed
}

func (m *refModel) create(cmd CreateResource) string {
	if m.exists {
		return CodeAlreadyExists
	}
	ttl := cmd.HoldTTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	ok := cmd.ID == m.id && refValidID(cmd.ID, 128) && refValidName(cmd.Name) &&
		len(cmd.Buckets) >= 1 && len(cmd.Buckets) <= 1000 && refValidTTL(ttl)
	if p := cmd.Price; p != nil {
		ok = ok && p.Amount >= 0 && refValidCurrency(p.Currency)
	}
	for k, c := range cmd.Buckets {
		ok = ok && refValidKey(k) && refValidCap(c)
	}
	rules, rok := refCreateRules(cmd)
	if !ok || !rok {
		return CodeInvalid
	}
	m.exists, m.name, m.ttl, m.rules = true, cmd.Name, ttl, rules
	for k, c := range cmd.Buckets {
		m.caps[k] = c
	}
	return ""
}

// update returns the refusal code, or "" and the capacities that change.
func (m *refModel) update(cmd UpdateResource, now time.Time) (string, map[string]int64) {
	if !m.exists {
		return CodeNotFound, nil
	}
	if len(cmd.Buckets) == 0 && cmd.Name == nil && cmd.HoldTTL == nil && cmd.MaxExtensions == nil && cmd.Allowance == nil &&
		cmd.MaxPerUser == nil && cmd.WaitlistOfferTTL == nil {
		return CodeInvalid, nil
	}
	if (cmd.Name != nil && !refValidName(*cmd.Name)) || (cmd.HoldTTL != nil && !refValidTTL(*cmd.HoldTTL)) {
		return CodeInvalid, nil
	}
	rules, ok := m.rules.updated(cmd)
	if !ok {
		return CodeInvalid, nil
	}
	added := 0
	for k, c := range cmd.Buckets {
		if !refValidKey(k) || !refValidCap(c) {
			return CodeInvalid, nil
		}
		if _, ok := m.caps[k]; !ok {
			added++
		}
	}
	if len(m.caps)+added > 1000 {
		return CodeInvalid, nil
	}
	changed := map[string]int64{}
	for k, c := range cmd.Buckets {
		if old, ok := m.caps[k]; !ok || old != c {
			changed[k] = c
		}
	}
	for k, old := range m.caps { // every bucket must still hold what it has booked
		c, ok := cmd.Buckets[k]
		if !ok {
			c = old
		}
		if held, conf := m.used(k); c+rules.allowance(c) < held+conf {
			return CodeConflict, nil
		}
	}
	for k, c := range changed {
		m.caps[k] = c
	}
	m.rules = rules
	if cmd.Name != nil {
		m.name = *cmd.Name
	}
	if cmd.HoldTTL != nil {
		m.ttl = *cmd.HoldTTL
	}
	m.offer(now) // more room may serve the waitlist
	return "", changed
}

// hold returns the refusal code, or "" and the id of the hold to answer with, and whether
// it is a replay.
func (m *refModel) hold(cmd PlaceHold, now time.Time) (code, holdID string, replay bool) {
	if !m.exists {
		return CodeNotFound, "", false
	}
	sorted := slices.Sorted(slices.Values(cmd.Buckets))
	if cmd.IdempotencyKey != "" {
		if len(cmd.IdempotencyKey) > 128 || strings.ContainsFunc(cmd.IdempotencyKey, func(r rune) bool { return r < ' ' || r > '~' }) {
			return CodeInvalid, "", false
		}
		if e, ok := m.idem[cmd.IdempotencyKey]; ok {
			if e.join || e.extend || e.qty != cmd.Quantity || e.user != cmd.UserID || !slices.Equal(e.sorted, sorted) {
				return CodeIdempotencyMismatch, "", false
			}
			return "", e.holdID, true
		}
	}
	if _, dup := m.holds[cmd.HoldID]; dup || !refValidID(cmd.HoldID, 128) {
		return CodeInternal, "", false
	}
	if !refValidID(cmd.UserID, 128) || cmd.Quantity < 1 || cmd.Quantity > 1<<30 ||
		len(cmd.Buckets) < 1 || len(cmd.Buckets) > 62 || len(slices.Compact(slices.Clone(sorted))) != len(sorted) {
		return CodeInvalid, "", false
	}
	for _, k := range cmd.Buckets {
		if _, ok := m.caps[k]; !ok {
			return CodeInvalid, "", false
		}
	}
	for _, k := range cmd.Buckets {
		if held, conf := m.used(k); m.limit(k)-held-conf < cmd.Quantity {
			return CodeSoldOut, "", false
		}
	}
	if !m.withinLimit(cmd.UserID, cmd.Quantity*int64(len(cmd.Buckets))) {
		return CodeLimitExceeded, "", false
	}
	m.holds[cmd.HoldID] = &refHold{id: cmd.HoldID, user: cmd.UserID, key: cmd.IdempotencyKey,
		buckets: slices.Clone(cmd.Buckets), qty: cmd.Quantity, status: StatusHeld,
		expiresAt: now.Add(m.ttl), updatedAt: now}
	if cmd.IdempotencyKey != "" {
		m.idem[cmd.IdempotencyKey] = refIdem{sorted: sorted, qty: cmd.Quantity, user: cmd.UserID, holdID: cmd.HoldID, createdAt: now}
	}
	return "", cmd.HoldID, false
}

// transition decides and applies a confirmation or cancellation; it returns the refusal code
// and whether an event was due.
func (m *refModel) transition(id string, confirm bool, now time.Time) (string, bool) {
	if !m.exists {
		return CodeNotFound, false
	}
	h, ok := m.holds[id]
	if !ok {
		return CodeNotFound, false
	}
	inTime := now.Before(h.expiresAt)
	switch {
	case confirm && h.status == StatusConfirmed, !confirm && h.status == StatusCancelled:
		return "", false
	case confirm && h.status == StatusHeld && inTime:
		h.status, h.updatedAt = StatusConfirmed, now
		return "", true
	case !confirm && (h.status == StatusConfirmed || h.status == StatusHeld && inTime):
		h.status, h.updatedAt = StatusCancelled, now
		m.offer(now)
		return "", true
	}
	return CodeConflict, false
}

// due returns the held holds whose deadline is at or before now, by deadline then id.
func (m *refModel) due(now time.Time) []*refHold {
	var out []*refHold
	for _, h := range m.holds {
		if h.status == StatusHeld && !h.expiresAt.After(now) {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].expiresAt.Equal(out[j].expiresAt) {
			return out[i].expiresAt.Before(out[j].expiresAt)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (m *refModel) nextExpiry() (time.Time, bool) {
	var next time.Time
	ok := false
	for _, h := range m.holds {
		if h.status == StatusHeld && (!ok || h.expiresAt.Before(next)) {
			next, ok = h.expiresAt, true
		}
	}
	return next, ok
}

func (m *refModel) prune(cutoff time.Time) {
	for k, e := range m.idem {
		if e.createdAt.Before(cutoff) {
			delete(m.idem, k)
		}
	}
}

// restore mirrors what a store's Activate loads: active holds only, the keys created at or
// after idemSince, and every waiting entry. Seq goes on from the last waiting entry's: it only
// orders the entries that wait.
func (m *refModel) restore(idemSince time.Time) {
	for id, h := range m.holds {
		if !h.status.Active() {
			if m.gone == nil {
				m.gone = map[string]*refHold{}
			}
			m.gone[id] = h
			delete(m.holds, id)
		}
	}
	m.prune(idemSince)
	m.seq = 0
	for _, e := range m.waiting {
		m.seq = max(m.seq, e.Seq)
	}
}
