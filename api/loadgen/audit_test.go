package loadgen

import (
	"strings"
	"testing"

	"github.com/allot/allot/api/wire"
)

const flashRID = "r-flash"

// flashLedger is 10 acknowledged holds of one unit on the flash resource: 6 confirmed,
// 2 cancelled, 2 still held.
func flashLedger() *ledger {
	l := &ledger{}
	for i := range 10 {
		st := stateConfirmed
		switch {
		case i < 2:
			st = stateCancelled
		case i < 4:
			st = stateHeld
		}
		l.Acked = append(l.Acked, ackedHold{ID: holdID(i), ResourceID: flashRID, Buckets: []string{"all"}, Quantity: 1, State: st})
	}
	return l
}

func holdID(i int) string { return "h-" + string(rune('a'+i)) }

func flashAvail(capacity, held, confirmed int64) map[string]map[string]wire.Bucket {
	return map[string]map[string]wire.Bucket{flashRID: {"all": {
		Capacity: capacity, Held: held, Confirmed: confirmed, Available: capacity - held - confirmed,
	}}}
}

var flashCreated = map[string]map[string]int64{flashRID: {"all": 8}}

func hasProblem(a *Audit, prefix string) bool {
	for _, p := range a.Problems {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

func TestAuditAvailability(t *testing.T) {
	for _, c := range []struct {
		name     string
		ledger   *ledger
		avail    map[string]map[string]wire.Bucket
		problems []string // prefixes expected; none means OK
	}{
		{name: "exact", ledger: flashLedger(), avail: flashAvail(8, 2, 6)},
		{name: "oversold", ledger: flashLedger(), avail: flashAvail(8, 3, 6), problems: []string{"OVERSOLD server", "PHANTOM server"}},
		{name: "lost acknowledged hold", ledger: flashLedger(), avail: flashAvail(8, 1, 6), problems: []string{"LOST server"}},
		{name: "phantom within capacity", ledger: flashLedger(), avail: flashAvail(9, 3, 6), problems: []string{"server: r-flash/all has capacity 9", "PHANTOM server"}},
		{
			name: "unknown outcome tolerated",
			ledger: func() *ledger {
				l := flashLedger()
				l.Unknown = append(l.Unknown, unknownHold{Key: "k", ResourceID: flashRID, Buckets: []string{"all"}, Quantity: 1})
				return l
			}(),
			avail:    flashAvail(8, 3, 6), // the unknown hold was applied; capacity 8 is still exceeded
			problems: []string{"OVERSOLD server"},
		},
		{
			name: "uncertain cancel tolerated",
			ledger: func() *ledger {
				l := flashLedger()
				l.Acked[9].State = stateUncertain // a confirmed hold whose cancel timed out
				return l
			}(),
			avail: flashAvail(8, 2, 5),
		},
		{name: "resource missing", ledger: flashLedger(), avail: nil, problems: []string{"server: no availability"}},
		{name: "bad arithmetic", ledger: flashLedger(), avail: map[string]map[string]wire.Bucket{flashRID: {"all": {Capacity: 8, Held: 2, Confirmed: 6, Available: 1}}},
			problems: []string{"server: r-flash/all reports available"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a Audit
			auditAvailability(&a, flashCreated, c.ledger, c.avail)
			if len(c.problems) == 0 && a.ProblemCount != 0 {
				t.Fatalf("problems %q, want none", a.Problems)
			}
			for _, p := range c.problems {
				if !hasProblem(&a, p) {
					t.Errorf("problems %q lack %q", a.Problems, p)
				}
			}
			if a.Resources != 1 || (c.avail != nil && a.Buckets != 1) {
				t.Errorf("checked %d resources, %d buckets", a.Resources, a.Buckets)
			}
		})
	}
}

func TestAuditMultiBucketHolds(t *testing.T) {
	created := map[string]map[string]int64{"r-h": {"d1": 2, "d2": 2, "d3": 2}}
	l := &ledger{Acked: []ackedHold{
		{ID: "a", ResourceID: "r-h", Buckets: []string{"d1", "d2"}, Quantity: 1, State: stateConfirmed},
		{ID: "b", ResourceID: "r-h", Buckets: []string{"d2", "d3"}, Quantity: 1, State: stateHeld},
		{ID: "c", ResourceID: "r-h", Buckets: []string{"d1", "d2", "d3"}, Quantity: 1, State: stateCancelled},
	}}
	avail := map[string]map[string]wire.Bucket{"r-h": {
		"d1": {Capacity: 2, Confirmed: 1, Available: 1},
		"d2": {Capacity: 2, Held: 1, Confirmed: 1},
		"d3": {Capacity: 2, Held: 1, Available: 1},
	}}
	var a Audit
	auditAvailability(&a, created, l, avail)
	if a.ProblemCount != 0 || a.Buckets != 3 {
		t.Fatalf("problems %q, %d buckets", a.Problems, a.Buckets)
	}
	avail["r-h"]["d3"] = wire.Bucket{Capacity: 2, Available: 2} // hold b lost on one night
	a = Audit{}
	auditAvailability(&a, created, l, avail)
	if !hasProblem(&a, "LOST server: r-h/d3") || a.ProblemCount != 1 {
		t.Fatalf("problems %q, want only LOST on r-h/d3", a.Problems)
	}
}

func TestAuditDatabase(t *testing.T) {
	rows := func() []dbHold {
		var out []dbHold
		for _, h := range flashLedger().Acked {
			st := map[holdState]string{stateHeld: "held", stateConfirmed: "confirmed", stateCancelled: "cancelled"}[h.State]
			out = append(out, dbHold{ID: h.ID, ResourceID: h.ResourceID, Status: st, Quantity: 1, Buckets: []string{"all"}})
		}
		return out
	}
	bucketRow := func(held, confirmed int64) []dbBucket {
		return []dbBucket{{ResourceID: flashRID, Key: "all", Counts: wire.Bucket{Capacity: 8, Held: held, Confirmed: confirmed}}}
	}

	t.Run("consistent", func(t *testing.T) {
		var a Audit
		auditDatabase(&a, flashCreated, flashLedger(), rows(), bucketRow(2, 6))
		if a.ProblemCount != 0 {
			t.Fatalf("problems %q", a.Problems)
		}
		d := a.Database
		if d.Holds != 10 || d.ByStatus["confirmed"] != 6 || d.ByStatus["cancelled"] != 2 || d.Missing != 0 {
			t.Fatalf("database audit %+v", d)
		}
	})
	t.Run("missing acknowledged hold", func(t *testing.T) {
		var a Audit
		r := rows()
		r = append(r[:5], r[6:]...) // h-f, confirmed, gone
		auditDatabase(&a, flashCreated, flashLedger(), r, bucketRow(2, 6))
		if a.Database.Missing != 1 || !hasProblem(&a, "MISSING database: hold h-f") {
			t.Fatalf("missing %d, problems %q", a.Database.Missing, a.Problems)
		}
		if !hasProblem(&a, "database: r-flash/all counters held=2 confirmed=6 disagree") {
			t.Errorf("problems %q lack the counter disagreement", a.Problems)
		}
	})
	t.Run("oversold bucket", func(t *testing.T) {
		var a Audit
		r := append(rows(), dbHold{ID: "x", ResourceID: flashRID, Status: "held", Quantity: 1, Buckets: []string{"all"}})
		auditDatabase(&a, flashCreated, flashLedger(), r, bucketRow(3, 6))
		if !hasProblem(&a, "OVERSOLD database: r-flash/all") {
			t.Fatalf("problems %q", a.Problems)
		}
	})
	t.Run("status disagrees with client", func(t *testing.T) {
		var a Audit
		r := rows()
		r[0].Status = "confirmed" // h-a was cancelled
		auditDatabase(&a, flashCreated, flashLedger(), r, bucketRow(2, 7))
		if !hasProblem(&a, "database: hold h-a has status confirmed") {
			t.Fatalf("problems %q", a.Problems)
		}
	})
}

func TestAuditProblemsAreBounded(t *testing.T) {
	var a Audit
	for i := range maxProblems + 5 {
		a.problem("p%d", i)
	}
	if len(a.Problems) != maxProblems || a.ProblemCount != maxProblems+5 {
		t.Fatalf("%d problems kept of %d", len(a.Problems), a.ProblemCount)
	}
}
