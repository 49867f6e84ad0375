package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// BenchmarkCommitHoldIDOrder: what the order of hold ids costs PostgreSQL. One activation
// commits batches of 84 one-unit holds (the mean batch of the HTTP benchmark at 256 clients),
// each with its idempotency key (256 clients' keys) and its event, as the resource actor
// does, until the table holds b.N×84 holds: with ids all random (before round 7) and with
// resource.NewHoldID's, the second first. Reports the server's CPU per hold (its backends',
// from /proc; 10 ms ticks) and holds/s. Run it with -benchtime 2000x or more: the difference
// shows once the holds table and its key index outgrow the server's cache (pgtest:
// shared_buffers 32MB).
func BenchmarkCommitHoldIDOrder(b *testing.B) {
	srv := pgtest.MustServer(b)
	random := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	ids := map[string]func() string{
		"random": func() string {
			var r [16]byte
			_, _ = rand.Read(r[:])
			return "h_" + random.EncodeToString(r[:])
		},
		"time-first": func() string { return resource.NewHoldID(time.Now()) },
	}
	for _, order := range []string{"random", "time-first"} {
		b.Run(order, func(b *testing.B) {
			s := mustOpen(b, testConfig(srv.MustDatabase(b)))
			const id, size = "hot", 84
			mustCreate(b, s, id, booking.Bucket{Key: "a", Capacity: booking.MaxCapacity})
			ctx := context.Background()
			snap, err := s.Activate(ctx, id, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			pid, _ := srv.PostmasterPID()
			version, held, seq := snap.Version, int64(0), int64(0)
			db := backendsCPU(pid)
			b.ResetTimer()
			for b.Loop() {
				batch := &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: version + 1, Resource: testResource(id)}
				for range size {
					seq++
					h := benchHold(id, seq)
					h.ID, h.IdempotencyKey = ids[order](), fmt.Sprintf("run-%d-%d", seq%256, seq)
					batch.Holds = append(batch.Holds, h)
					batch.Idempotency = append(batch.Idempotency, booking.IdempotencyEntry{
						Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt,
					})
					batch.Events = append(batch.Events, events.Event{Type: events.HoldPlaced, ResourceID: id, Version: version + 1,
						Index: len(batch.Events), OccurredAt: h.CreatedAt, Hold: &batch.Holds[len(batch.Holds)-1]})
				}
				held += size
				batch.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: held}}
				if err := s.Commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
				version++
			}
			holds := float64(b.N * size)
			if pid != 0 {
				b.ReportMetric(float64((backendsCPU(pid)-db).Microseconds())/holds, "db-cpu-µs/hold")
			}
			b.ReportMetric(holds/b.Elapsed().Seconds(), "holds/s")
		})
	}
}

// backendsCPU sums the user and system time of the postmaster and its live children (10 ms
// ticks, /proc/PID/stat).
func backendsCPU(postmaster int) time.Duration {
	var ticks int64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); pid != postmaster && ppid != postmaster {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
