// Package storetest is the contract every audit.Store passes: the in-memory store and the SQL
// store on SQLite and PostgreSQL run the same tests.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/api/audit"
)

// Run runs the contract against stores from newStore, a fresh empty store per call.
func Run(t *testing.T, newStore func(*testing.T) audit.Store) {
	t.Run("AppendAndListNewestFirst", func(t *testing.T) { appendAndList(t, newStore(t)) })
	t.Run("AppendTwiceStoresOnce", func(t *testing.T) { appendTwice(t, newStore(t)) })
	t.Run("Filters", func(t *testing.T) { filters(t, newStore(t)) })
	t.Run("PagesAgainstAModel", func(t *testing.T) { pagesAgainstModel(t, newStore(t)) })
	t.Run("PruneDeletesOlderEntries", func(t *testing.T) { prune(t, newStore(t)) })
}

var base = time.UnixMilli(1_900_000_000_000).UTC()

func entry(i int, at time.Time, subject, action string) audit.Entry {
	return audit.Entry{ID: fmt.Sprintf("au_%06d", i), At: at, Subject: subject, Action: action, Method: "POST",
		Route: "/v1/resources", Target: "rid=r-" + fmt.Sprint(i), RequestID: fmt.Sprintf("req-%d", i), Status: 201,
		Outcome: audit.OutcomeSucceeded, ClientIP: fmt.Sprintf("2001:db8::%x", i)}
}

func mustAppend(t *testing.T, s audit.Store, es ...audit.Entry) {
	t.Helper()
	for _, e := range es {
		if err := s.Append(context.Background(), e); err != nil {
			t.Fatalf("append %s: %v", e.ID, err)
		}
	}
}

func mustList(t *testing.T, s audit.Store, f audit.Filter) audit.Page {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = audit.DefaultLimit
	}
	p, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	return p
}

func ids(es []audit.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func appendAndList(t *testing.T, s audit.Store) {
	if p := mustList(t, s, audit.Filter{}); len(p.Entries) != 0 || !p.Next.IsZero() {
		t.Fatalf("empty store lists %v", p)
	}
	a := entry(1, base, "op-1", "resource.create")
	a.Status, a.Outcome = 403, audit.OutcomeRefused
	mustAppend(t, s, a, entry(2, base.Add(time.Second), "op-1", "resource.update"))
	p := mustList(t, s, audit.Filter{})
	if got := ids(p.Entries); !slices.Equal(got, []string{"au_000002", "au_000001"}) || !p.Next.IsZero() {
		t.Fatalf("listed %v (next %v), want newest first", got, p.Next)
	}
	if got := p.Entries[1]; got != a {
		t.Fatalf("stored %+v, read back %+v", a, got)
	}
}

func appendTwice(t *testing.T, s audit.Store) {
	e := entry(1, base, "op-1", "resource.create")
	mustAppend(t, s, e, e)
	if p := mustList(t, s, audit.Filter{}); len(p.Entries) != 1 {
		t.Fatalf("%d entries after appending one twice", len(p.Entries))
	}
}

func filters(t *testing.T, s audit.Store) {
	mustAppend(t, s,
		entry(1, base, "op-1", "resource.create"),
		entry(2, base.Add(time.Minute), "op-2", "resource.create"),
		entry(3, base.Add(2*time.Minute), "op-1", "webhook.delete"),
		entry(4, base.Add(3*time.Minute), "admin-1", "audit.list"))
	for _, c := range []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"subject", audit.Filter{Subject: "op-1"}, []string{"au_000003", "au_000001"}},
		{"action", audit.Filter{Action: "resource.create"}, []string{"au_000002", "au_000001"}},
		{"from inclusive", audit.Filter{From: base.Add(time.Minute)}, []string{"au_000004", "au_000003", "au_000002"}},
		{"to exclusive", audit.Filter{To: base.Add(2 * time.Minute)}, []string{"au_000002", "au_000001"}},
		{"all of them", audit.Filter{From: base, To: base.Add(3 * time.Minute), Subject: "op-1", Action: "webhook.delete"}, []string{"au_000003"}},
		{"none", audit.Filter{Subject: "nobody"}, []string{}},
	} {
		if got := ids(mustList(t, s, c.f).Entries); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// pagesAgainstModel appends entries at random times (many at the same millisecond) and
// checks that paging through any filter with any page size yields exactly the model's
// entries, newest first, each once.
func pagesAgainstModel(t *testing.T, s audit.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	subjects := []string{"op-1", "op-2", "admin-1"}
	actions := []string{"resource.create", "resource.update", "webhook.delete"}
	var model []audit.Entry
	for i := range 120 {
		e := entry(i, base.Add(time.Duration(rng.IntN(20))*time.Millisecond), subjects[rng.IntN(3)], actions[rng.IntN(3)])
		model = append(model, e)
	}
	mustAppend(t, s, model...)
	slices.SortFunc(model, func(a, b audit.Entry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		if a.ID > b.ID {
			return -1
		}
		return 1
	})
	for round := range 12 {
		f := audit.Filter{Limit: 1 + rng.IntN(25)}
		if rng.IntN(2) == 0 {
			f.Subject = subjects[rng.IntN(3)]
		}
		if rng.IntN(2) == 0 {
			f.From = base.Add(time.Duration(rng.IntN(10)) * time.Millisecond)
		}
		var want []string
		for _, e := range model {
			if (f.Subject == "" || e.Subject == f.Subject) && (f.From.IsZero() || !e.At.Before(f.From)) {
				want = append(want, e.ID)
			}
		}
		var got []string
		for pages := 0; ; pages++ {
			if pages > len(model)+1 {
				t.Fatalf("round %d: paging does not end", round)
			}
			p := mustList(t, s, f)
			if len(p.Entries) > f.Limit {
				t.Fatalf("round %d: %d entries on a page of %d", round, len(p.Entries), f.Limit)
			}
			got = append(got, ids(p.Entries)...)
			if p.Next.IsZero() {
				break
			}
			// The cursor survives its text form, as a client passes it back.
			if f.After, _ = audit.ParseCursor(p.Next.String()); f.After != p.Next {
				t.Fatalf("round %d: cursor %v does not round-trip", round, p.Next)
			}
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("round %d (%+v): paged %v\nwant %v", round, f, got, want)
		}
	}
}

// prune deletes exactly the entries before the given time (more than one SQL batch of them),
// and pruning again deletes nothing.
func prune(t *testing.T, s audit.Store) {
	ctx := context.Background()
	const old = 1203
	for i := range old {
		mustAppend(t, s, entry(i, base.Add(time.Duration(i)*time.Millisecond), "op-1", "resource.create"))
	}
	cut := base.Add(old * time.Millisecond)
	mustAppend(t, s, entry(old, cut, "op-1", "resource.create"), entry(old+1, cut.Add(time.Hour), "op-2", "resource.update"))
	n, err := s.Prune(ctx, cut)
	if err != nil || n != old {
		t.Fatalf("prune = %d, %v; want %d", n, err, old)
	}
	if got := ids(mustList(t, s, audit.Filter{}).Entries); !slices.Equal(got, []string{fmt.Sprintf("au_%06d", old+1), fmt.Sprintf("au_%06d", old)}) {
		t.Fatalf("after prune: %v, want the entry at the cut and the newer one", got)
	}
	if n, err := s.Prune(ctx, cut); err != nil || n != 0 {
		t.Fatalf("second prune = %d, %v; want 0", n, err)
	}
}
