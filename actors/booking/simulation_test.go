package booking

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// chooser supplies every choice the simulation makes: a seeded PRNG in TestSimulation, the
// fuzzer's bytes in FuzzDecideCommands.
type chooser interface {
	Intn(n int) int // in [0, n); n >= 1
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) Intn(n int) int { return c.r.IntN(n) }

// Pools the commands draw from. Keys and users with '|' exercise Fingerprint; the "bad"
// entries are refused by validation.
var (
	simKeys     = []string{"2026-03-01", "2026-03-02", "2026-03-03", "all", "a", "b", "a|b", "|"}
	simBadKeys  = []string{"", "a,b", "a b", `a"b`, `a\b`, strings.Repeat("k", 65), "ü", "2026-02-30", "2026-3-01"}
	simUsers    = []string{"u1", "u2", "u", "u|a", "u|"}
	simBadUsers = []string{"", "u 1", "u/1", strings.Repeat("u", 129), ".", ".."}
	simNames    = []string{"Room", "Zimmer für zwei", "", strings.Repeat("n", 257), "a\xffb", "a\x00b", "evil\u202etxt", "tab\t"}
	simTTLs     = []time.Duration{0, time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, MaxHoldTTL,
		time.Second - 1, -time.Second, MaxHoldTTL + 1}
)

// sim drives a State and a refModel with the same commands and compares them after every
// step.
type sim struct {
	tb      testing.TB
	c       chooser
	label   string // "seed=N" or "fuzz", printed on failure
	step    int
	now     time.Time
	s       *State
	ref     *refModel
	nextID  int
	holdIDs []string       // every hold id ever placed
	keys    []string       // every idempotency key ever used by an accepted hold or join
	trace   []string       // the last steps, printed on failure
	seen    map[string]int // "command:code" outcomes, to check the generator's reach
}

func newSim(tb testing.TB, c chooser, label string) *sim {
	return &sim{tb: tb, c: c, label: label, now: t0, s: NewState("r1"), ref: newRefModel("r1"), seen: map[string]int{}}
}

func (m *sim) fatalf(format string, args ...any) {
	m.tb.Helper()
	m.tb.Fatalf("%s step=%d now=+%v: %s\nlast steps:\n  %s", m.label, m.step, m.now.Sub(t0),
		fmt.Sprintf(format, args...), strings.Join(m.trace, "\n  "))
}

func (m *sim) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf("%d +%v ", m.step, m.now.Sub(t0))+fmt.Sprintf(format, args...))
	if len(m.trace) > 25 {
		m.trace = m.trace[1:]
	}
}

func (m *sim) pick(xs []string) string { return xs[m.c.Intn(len(xs))] }

// oneIn reports true with probability 1/n.
func (m *sim) oneIn(n int) bool { return m.c.Intn(n) == 0 }

// run performs one random step and checks the state against the reference.
func (m *sim) run() {
	m.step++
	m.advance()
	m.ref.offered = nil
	switch op := m.c.Intn(120); {
	case op < 5:
		m.create()
	case op < 12:
		m.update()
	case op < 48:
		m.hold(m.genHold())
	case op < 56:
		m.replay()
	case op < 66:
		m.transition(true)
	case op < 76:
		m.transition(false)
	case op < 86:
		m.expire()
	case op < 90:
		m.prune()
	case op < 95:
		m.cloneAndContinue()
	case op < 100:
		m.restore()
	case op < 106:
		m.extend()
	case op < 115:
		m.join()
	default:
		m.leave()
	}
	m.check()
}

func (m *sim) wantCode(what string, err error, want string) {
	m.tb.Helper()
	got := ErrorCode(err)
	m.seen[what+":"+got]++
	if got != want {
		m.fatalf("%s: code %q (%v), reference says %q", what, got, err, want)
	}
}

// check compares every observable of the state with the reference and checks the invariant.
func (m *sim) check() {
	m.tb.Helper()
	s, ref := m.s, m.ref
	res, ok := s.Resource()
	if ok != ref.exists {
		m.fatalf("exists = %v, reference %v", ok, ref.exists)
	}
	if ok && (res.Name != ref.name || res.HoldTTL != ref.ttl) {
		m.fatalf("resource %+v, reference name %q ttl %v", res, ref.name, ref.ttl)
	}
	if r := ref.rules; ok && (res.MaxExtensions != r.maxExt || res.Allowance != (Allowance{Units: r.units, Percent: r.percent}) ||
		res.MaxPerUser != r.maxPerUser || res.WaitlistOfferTTL != r.offerTTL) {
		m.fatalf("resource rules %+v, reference %+v", res, r)
	}
	bs := s.Buckets()
	if len(bs) != len(ref.caps) {
		m.fatalf("%d buckets, reference %d", len(bs), len(ref.caps))
	}
	for _, b := range bs {
		held, conf := ref.used(b.Key) // expired and cancelled holds never count
		if b.Capacity != ref.caps[b.Key] || b.Held != held || b.Confirmed != conf || b.Allowance != ref.rules.allowance(b.Capacity) {
			m.fatalf("bucket %+v, reference capacity %d held %d confirmed %d allowance %d", b, ref.caps[b.Key], held, conf, ref.rules.allowance(b.Capacity))
		}
		// No oversell beyond the allowance.
		if b.Held < 0 || b.Confirmed < 0 || b.Held+b.Confirmed > b.Capacity+b.Allowance {
			m.fatalf("invariant broken: %+v", b)
		}
	}
	if s.HoldCount() != len(ref.holds) {
		m.fatalf("%d holds, reference %d", s.HoldCount(), len(ref.holds))
	}
	for id, rh := range ref.holds {
		h, ok := s.Hold(id)
		if !ok || h.Status != rh.status || h.Quantity != rh.qty || h.UserID != rh.user || h.IdempotencyKey != rh.key ||
			!slices.Equal(h.Buckets, rh.buckets) || !h.ExpiresAt.Equal(rh.expiresAt) || !h.UpdatedAt.Equal(rh.updatedAt) ||
			h.Extensions != rh.extensions || h.WaitlistEntryID != rh.entry {
			m.fatalf("hold %s = %+v (%v), reference %+v", id, h, ok, *rh)
		}
	}
	m.checkRules()
	if s.idemKeys() != len(ref.idem) {
		m.fatalf("%d idempotency keys, reference %d", s.idemKeys(), len(ref.idem))
	}
	for k, re := range ref.idem {
		e, ok := s.Idempotency(k)
		fp := Fingerprint(re.sorted, re.qty, re.user)
		switch esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`); {
		case re.join:
			fp = "waitlist|" + fp
		case re.extend:
			fp = "extend|" + esc.Replace(re.user) + "|" + esc.Replace(re.holdID)
		}
		if !ok || e.Key != k || e.HoldID != re.holdID || !e.CreatedAt.Equal(re.createdAt) || e.Fingerprint != fp {
			m.fatalf("idempotency %q = %+v (%v), reference %+v", k, e, ok, re)
		}
	}
	next, ok := s.NextExpiry()
	rnext, rok := ref.nextExpiry()
	if ok != rok || !next.Equal(rnext) {
		m.fatalf("NextExpiry = %v %v, reference %v %v", next, ok, rnext, rok)
	}
	// The expiry index holds every held hold once at its deadline (a duplicate would expire it
	// twice); a state of a few holds has none, and scans them (State.expiry).
	if s.expiry == nil && len(s.holds.list) > smallIndex {
		m.fatalf("%d holds and no expiry index", len(s.holds.list))
	}
	for id, rh := range ref.holds {
		if s.expiry == nil {
			break
		}
		n := 0
		for _, it := range s.expiry {
			if s.holds.list[it.hold].ID == id && it.at.time().Equal(rh.expiresAt) {
				n++
			}
		}
		if rh.status == StatusHeld && n != 1 {
			m.fatalf("held hold %s is %d times in the expiry index at its deadline, want once", id, n)
		}
	}
}

// TestSimulation runs random command sequences against State and the reference model, with
// a fake clock, for fixed seeds. A failure names the seed and step; rerun one seed with
// -run 'TestSimulation/seed=N$'.
func TestSimulation(t *testing.T) {
	seeds, steps := 20, 2000
	if testing.Short() {
		seeds, steps = 10, 1000
	}
	seen := map[string]int{}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
			m := newSim(t, randChooser{r}, fmt.Sprintf("seed=%d", seed))
			for range steps {
				m.run()
			}
			if m.s.HoldCount() == 0 && len(m.holdIDs) == 0 {
				t.Fatalf("seed=%d placed no hold: the generator is broken", seed)
			}
			for k, n := range m.seen {
				seen[k] += n
			}
		})
	}
	// Every outcome must have been reached, or the comparison proves little.
	for _, k := range []string{
		"create:", "create:" + CodeInvalid, "create:" + CodeAlreadyExists,
		"update:", "update:" + CodeInvalid, "update:" + CodeConflict, "update:" + CodeNotFound,
		"hold:", "hold:replay", "hold:" + CodeSoldOut, "hold:" + CodeInvalid, "hold:" + CodeIdempotencyMismatch,
		"hold:" + CodeInternal, "hold:" + CodeNotFound,
		"transition:", "transition:" + CodeConflict, "transition:" + CodeNotFound,
		"hold:" + CodeLimitExceeded, "update:offers", "transition:offers", "expire:offers",
		"extend:", "extend:" + CodeConflict, "extend:" + CodeNotFound, "extend:" + CodeLimitExceeded,
		"extend:replay", "extend:" + CodeIdempotencyMismatch, "extend:" + CodeInvalid,
		"join:", "join:" + CodeConflict, "join:" + CodeLimitExceeded, "join:" + CodeInvalid, "join:" + CodeInternal, "join:" + CodeNotFound,
		"leave:", "leave:" + CodeNotFound,
	} {
		if seen[k] == 0 && !t.Failed() {
			t.Errorf("no step had outcome %q; outcomes: %v", k, seen)
		}
	}
	t.Logf("outcomes: %v", seen)
}
