package loadgen

import (
	"fmt"
	"slices"

	"github.com/allot/allot/api/wire"
)

// Audit is the verdict on correctness after a run: did the server sell only what it had, and
// does it still hold exactly what it acknowledged to clients?
//
// For every bucket of every resource the run created, the audit reads held+confirmed back
// from the server (and, with DBURL, from the database) and checks:
//   - held+confirmed <= capacity (no oversell);
//   - held+confirmed >= the units of holds acknowledged to clients and not cancelled (no
//     acknowledged hold lost);
//   - held+confirmed <= that, plus the units of requests whose outcome the client could not
//     know (no phantom holds, e.g. a retried request applied twice).
//
// For the flash-sale hot resource the last two are "holds acknowledged minus cancels equals
// held+confirmed", exact when no request had an unknown outcome. Requests with an unknown
// outcome (timeouts, 5xx) are replayed with their Idempotency-Key before the audit, which
// resolves most of them.
type Audit struct {
	// OK is true when the audit ran and found no problem.
	OK bool
	// Skipped says why the audit did not run (the run was cancelled); OK is then false.
	Skipped string `json:",omitempty"`
	// Resources and Buckets count what was checked.
	Resources int
	Buckets   int
	// Acknowledged counts holds answered 201, Cancelled those of them whose cancel was
	// answered 200, Uncertain those whose confirm or cancel had an unknown outcome, and
	// Unknown hold requests whose outcome stayed unknown after replay.
	Acknowledged int64
	Cancelled    int64
	Uncertain    int64
	Unknown      int64
	// Problems describes what failed, at most maxProblems of ProblemCount.
	Problems     []string `json:",omitempty"`
	ProblemCount int
	// Database is the audit of the database's tables, when DBURL was set.
	Database *DatabaseAudit `json:",omitempty"`
}

// DatabaseAudit is what the audit found in the holds and buckets tables for this run's
// resources.
type DatabaseAudit struct {
	Holds    int64            // rows in holds
	ByStatus map[string]int64 // rows by status
	Missing  int64            // acknowledged holds without a row
}

const maxProblems = 50

func (a *Audit) problem(format string, args ...any) {
	a.ProblemCount++
	if len(a.Problems) < maxProblems {
		a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
	}
}

// holdState is what a client knows of a hold it was acknowledged.
type holdState uint8

const (
	stateHeld      holdState = iota // acknowledged; neither confirmed nor cancelled
	stateConfirmed                  // confirm answered 200
	stateCancelled                  // cancel answered 200
	stateUncertain                  // a confirm or cancel had an unknown outcome, or a confirm was refused
)

// ackedHold is a hold the server acknowledged (201) to a client.
type ackedHold struct {
	ID         string
	ResourceID string
	Buckets    []string
	Quantity   int64
	State      holdState
}

// unknownHold is a hold request whose outcome the client does not know (timeout, 5xx).
type unknownHold struct {
	Key        string
	ResourceID string
	UserID     string
	Buckets    []string
	Quantity   int64
}

// ledger is what clients were told: the base of the audit.
type ledger struct {
	Acked   []ackedHold
	Unknown []unknownHold
}

func (l *ledger) merge(o *ledger) {
	l.Acked = append(l.Acked, o.Acked...)
	l.Unknown = append(l.Unknown, o.Unknown...)
}

type bucketRef struct{ Resource, Key string }

// bounds is the range held+confirmed of a bucket may be in, given the ledger.
type bounds struct{ Lo, Hi int64 }

func (l *ledger) bounds() map[bucketRef]bounds {
	out := map[bucketRef]bounds{}
	add := func(rid string, keys []string, lo, hi int64) {
		for _, k := range keys {
			b := out[bucketRef{rid, k}]
			b.Lo += lo
			b.Hi += hi
			out[bucketRef{rid, k}] = b
		}
	}
	for _, h := range l.Acked {
		switch h.State {
		case stateHeld, stateConfirmed:
			add(h.ResourceID, h.Buckets, h.Quantity, h.Quantity)
		case stateUncertain:
			add(h.ResourceID, h.Buckets, 0, h.Quantity)
		}
	}
	for _, u := range l.Unknown {
		add(u.ResourceID, u.Buckets, 0, u.Quantity)
	}
	return out
}

func (l *ledger) tally(a *Audit) {
	a.Acknowledged = int64(len(l.Acked))
	a.Unknown = int64(len(l.Unknown))
	for _, h := range l.Acked {
		switch h.State {
		case stateCancelled:
			a.Cancelled++
		case stateUncertain:
			a.Uncertain++
		}
	}
}

// checkBucket checks one bucket's counters against its created capacity and the ledger's
// bounds; where names the source ("server", "database").
func checkBucket(a *Audit, where string, ref bucketRef, capacity int64, got wire.Bucket, b bounds) {
	used := got.Held + got.Confirmed
	switch {
	case got.Capacity != capacity:
		a.problem("%s: %s/%s has capacity %d, created with %d", where, ref.Resource, ref.Key, got.Capacity, capacity)
	case got.Held < 0 || got.Confirmed < 0:
		a.problem("%s: %s/%s has negative counters held=%d confirmed=%d", where, ref.Resource, ref.Key, got.Held, got.Confirmed)
	}
	if used > got.Capacity {
		a.problem("OVERSOLD %s: %s/%s has held+confirmed %d > capacity %d", where, ref.Resource, ref.Key, used, got.Capacity)
	}
	if used < b.Lo {
		a.problem("LOST %s: %s/%s has held+confirmed %d < %d units acknowledged to clients and not cancelled",
			where, ref.Resource, ref.Key, used, b.Lo)
	}
	if used > b.Hi {
		a.problem("PHANTOM %s: %s/%s has held+confirmed %d > %d units acknowledged or of unknown outcome",
			where, ref.Resource, ref.Key, used, b.Hi)
	}
}

// auditAvailability checks the availability read back from the server (by resource, then
// bucket key) against the resources as created (capacity by resource and bucket key) and the
// ledger.
func auditAvailability(a *Audit, created map[string]map[string]int64, l *ledger, avail map[string]map[string]wire.Bucket) {
	bs := l.bounds()
	for _, rid := range sortedKeys(created) {
		a.Resources++
		got, ok := avail[rid]
		if !ok {
			a.problem("server: no availability read back for %s", rid)
			continue
		}
		for _, key := range sortedKeys(created[rid]) {
			a.Buckets++
			ref := bucketRef{rid, key}
			c, ok := got[key]
			if !ok {
				a.problem("server: %s has no bucket %s", rid, key)
				continue
			}
			checkBucket(a, "server", ref, created[rid][key], c, bs[ref])
			if want := max(c.Capacity-c.Held-c.Confirmed, 0); c.Available != want {
				a.problem("server: %s/%s reports available %d, not capacity-held-confirmed %d",
					rid, key, c.Available, want)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
