package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
)

// oneAtATime hides PublishWindow: the relay then publishes event by event, as before round 14.
type oneAtATime struct{ b *Bus }

func (o oneAtATime) Publish(ctx context.Context, rec *events.Record) (bool, error) {
	return o.b.Publish(ctx, rec)
}

// BenchmarkPublishClaim: one claim of 64 hold.placed events of one resource (the flash sale's
// shape) published to the embedded stream and acknowledged, event by event (Publish) or as one
// window (PublishWindow). The server runs in the process, so cpu-ns/event is the node's CPU for
// the relay's publishes, JetStream's storing and the acknowledgements together.
func BenchmarkPublishClaim(b *testing.B) {
	const claim = 64
	data := json.RawMessage(`{"hold":{"id":"h-0000000000000000","resource_id":"flash","user_id":"user-0001","buckets":["a"],"quantity":1,"status":"held","created_at":"2030-03-17T17:46:40Z","expires_at":"2030-03-17T17:56:40Z","updated_at":"2030-03-17T17:46:40Z"}}`)
	at := time.UnixMilli(1_900_000_000_000).UTC()
	for _, mode := range []string{"one-at-a-time", "window"} {
		b.Run(mode, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.DataDir = b.TempDir()
			bus, err := Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			var pub Publisher = oneAtATime{bus}
			if mode == "window" {
				pub = bus
			}
			r := &relayProbe{pub: pub}
			recs := make([]events.Record, claim)
			dup := make([]bool, claim)
			v := uint64(0)
			cpu0 := cpuNow()
			b.ResetTimer()
			for range b.N {
				for i := range recs {
					v++
					recs[i] = events.Record{ID: events.ID("flash", v, 0), Type: events.HoldPlaced, ResourceID: "flash", Version: v,
						OccurredAt: at, Subject: "user-0001", Data: data}
				}
				if n, err := r.publish(context.Background(), recs, dup); err != nil || n != claim {
					b.Fatalf("published %d of %d: %v", n, claim, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*claim), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*claim), "ns/event")
		})
	}
}

// relayProbe runs the relay's publish step (Relay.publish) with pub.
type relayProbe struct{ pub Publisher }

func (p *relayProbe) publish(ctx context.Context, recs []events.Record, dup []bool) (int, error) {
	r := &Relay{cfg: RelayConfig{Publisher: p.pub, Windows: true}}
	return r.publish(ctx, recs, dup, true)
}

// cpuNow is the process's user and system CPU time so far.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprint("getrusage: ", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
