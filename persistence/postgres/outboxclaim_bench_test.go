package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// BenchmarkOutboxClaim: the relay's claims and marks of a backlog of 1,000 unpublished rows
// over 100 resources (10 versions each), 256 rows a claim, each claim marked before the next,
// until none is left; one op is the whole backlog. inorder: each resource's versions in log
// order (the common case). stepped: each resource's versions 3..10 come before its versions
// 1 and 2 in the log (its clock set back), so claims bring versions 1 and 2 in (a claim rule
// that dropped the later versions instead never finished this one). Each op's rows are new
// versions of the same resources (so the floors of the last op hold) and the published rows
// are deleted between ops, outside the timer. The store's sessions commit without waiting for
// the WAL flush (synchronous_commit off): a flush per claim and per mark is the same whatever
// the claim rule, and on a shared machine's disk it drowned the statements' cost. Reports
// ns/event, claim-ns/event (the ClaimEvents calls alone) and claims/op.
func BenchmarkOutboxClaim(b *testing.B) {
	for _, stepped := range []bool{false, true} {
		name := "inorder"
		if stepped {
			name = "stepped"
		}
		b.Run(name, func(b *testing.B) {
			const resources, versions, batch = 100, 10, 256
			url := pgtest.MustServer(b).MustDatabase(b)
			cfg := testConfig(url + "&synchronous_commit=off")
			cfg.MaxConns = 4
			s := mustOpen(b, cfg)
			c := mustConn(b, url)
			ctx := context.Background()
			now := time.UnixMilli(1 << 40)
			claims, op := 0, 0
			var claiming time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				if _, err := c.Exec(ctx, `DELETE FROM outbox WHERE published_at_ms > 0`); err != nil {
					b.Fatal(err)
				}
				// Version op*10+v of resource r at op*1e6 + v*1000 + r ms, or, stepped, versions
				// 1 and 2 half a second after every other row of the op.
				if _, err := c.Exec(ctx, `INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type,
    subject, data, published_at_ms, claimed_until_ms)
SELECT $1::INT8 * 1000000 + v * 1000 + r + CASE WHEN $2::BOOL AND v <= 2 THEN 500000 ELSE 0 END,
    'res-' || r, $1::INT8 * $3::INT8 + v, 0, 'hold.placed', 'u', repeat('x', 300), 0, 0
FROM generate_series(1, $4::INT8) AS r, generate_series(1, $3::INT8) AS v`, op, stepped, versions, resources); err != nil {
					b.Fatal(err)
				}
				op++
				b.StartTimer()
				left := resources * versions
				for left > 0 {
					start := time.Now()
					recs, err := s.ClaimEvents(ctx, now, time.Minute, batch)
					claiming += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) == 0 {
						b.Fatalf("claim %d: empty with %d rows unpublished", claims, left)
					}
					keys := make([]persistence.EventKey, len(recs))
					for i := range recs {
						keys[i] = persistence.KeyOf(&recs[i])
					}
					if err := s.MarkPublished(ctx, keys, now); err != nil {
						b.Fatal(err)
					}
					left -= len(recs)
					claims++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*resources*versions), "ns/event")
			b.ReportMetric(float64(claiming.Nanoseconds())/float64(b.N*resources*versions), "claim-ns/event")
			b.ReportMetric(float64(claims)/float64(b.N), "claims/op")
		})
	}
}
