package reports_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
	"github.com/allot/allot/api/wire"
)

// BenchmarkApplySQLite compares the reports consumer's two ways on the node's embedded
// SQLite: an event per transaction (Apply) against a fetch per transaction (ApplyBatch, 256
// events, the bus's DefaultMaxBatch). b.N is the number of events; cpu-ns/event is the
// process's CPU time (user + system), which is what the node's other work competes for.
//
//	go test -run '^$' -bench ApplySQLite -benchtime 20000x ./api/reports/
func BenchmarkApplySQLite(b *testing.B) {
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprint("batch-", batch), func(b *testing.B) {
			store, closeStore := openSQLite(b, filepath.Join(b.TempDir(), "allot.db"))
			defer closeStore()
			ctx := context.Background()
			evs := make([]feed.Event, 0, b.N+1)
			evs = append(evs, storetest.ResourceEvent("r1", 1, storetest.T0, "Europe/Berlin", &wire.Money{Amount: 100, Currency: "EUR"}))
			for i := range b.N {
				at := storetest.T0.Add(time.Duration(i) * time.Second)
				evs = append(evs, storetest.HoldEvent(reports.TypeHoldPlaced, "r1", fmt.Sprint("h", i), uint64(i+2), at,
					[]string{"2026-12-24"}, 1))
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for len(evs) > 0 {
				n := min(batch, len(evs))
				var err error
				if batch == 1 {
					_, err = store.Apply(ctx, evs[0])
				} else {
					_, err = store.ApplyBatch(ctx, evs[:n])
				}
				if err != nil {
					b.Fatal(err)
				}
				evs = evs[n:]
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/event")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
