package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// TestQuietProbeDue: the last message is read once per quiet period, only after quietAfter
// without a message, never on an empty stream.
func TestQuietProbeDue(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	var q quietProbe
	st := jetstream.StreamState{}
	if q.due(st, t0.Add(time.Hour)) {
		t.Fatal("an empty stream is read")
	}
	st = jetstream.StreamState{LastSeq: 7, LastTime: t0}
	if q.due(st, t0.Add(quietAfter-time.Millisecond)) {
		t.Fatal("read before quietAfter")
	}
	if !q.due(st, t0.Add(quietAfter)) {
		t.Fatal("not read after quietAfter")
	}
	if q.due(st, t0.Add(time.Hour)) {
		t.Fatal("read twice in one quiet period")
	}
	st = jetstream.StreamState{LastSeq: 9, LastTime: t0.Add(time.Hour)}
	if q.due(st, t0.Add(time.Hour+time.Second)) || !q.due(st, t0.Add(time.Hour+quietAfter)) {
		t.Fatal("the next quiet period is not read once quiet")
	}
	if quietAfter <= 30*time.Second+embeddedSyncInterval {
		t.Fatalf("quietAfter %s does not wait for the sync that closes an idle block (30 s idle + %s)", quietAfter, embeddedSyncInterval)
	}
}

// TestBusReadsAQuietStreamsLastMessage: on the embedded server, the bus reads a stream's last
// message once the stream has been quiet for quietAfter (by the bus's clock), once per quiet
// period, and stops its loop on Close (Close twice is safe).
func TestBusReadsAQuietStreamsLastMessage(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Now = t.TempDir(), clock
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	if b.stopQuiet == nil {
		t.Fatal("no quiet loop for the embedded server")
	}
	publish := func(i int) {
		m := nats.NewMsg(fmt.Sprintf("%stest.placed.r%d", events.SubjectPrefix, i))
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("id-%d", i))
		m.Data = []byte("{}")
		if _, err := b.JetStream().PublishMsg(context.Background(), m); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	ctx := context.Background()
	q := &quietProbe{}
	for i := range 50 {
		publish(i)
	}
	b.probeQuiet(ctx, EventsStream, q)
	if n := b.quietReads.Load(); n != 0 {
		t.Fatalf("%d reads of a stream written just now", n)
	}
	advance(quietAfter + time.Second)
	b.probeQuiet(ctx, EventsStream, q)
	b.probeQuiet(ctx, EventsStream, q)
	if n := b.quietReads.Load(); n != 1 || q.read != 50 {
		t.Fatalf("%d reads (last %d), want 1 of sequence 50", n, q.read)
	}
	publish(50)
	advance(quietAfter + time.Second)
	b.probeQuiet(ctx, EventsStream, q)
	if n := b.quietReads.Load(); n != 2 || q.read != 51 {
		t.Fatalf("%d reads (last %d), want 2, the last of sequence 51", n, q.read)
	}
	empty := &quietProbe{}
	b.probeQuiet(ctx, DeadLetterStream, empty)
	if n := b.quietReads.Load(); n != 2 {
		t.Fatal("an empty stream was read")
	}

	// The loop itself, on a fast tick: the stream is quiet by the clock, so it reads it.
	b.stopQuiet()
	<-b.quietDone
	publish(51)
	advance(quietAfter + time.Second)
	b.startQuietLoop(10 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for b.quietReads.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.quietReads.Load(); n != 3 {
		t.Fatalf("the loop read %d, want 3", n-2)
	}
	b.Close()
	b.Close()
	select {
	case <-b.quietDone:
	default:
		t.Fatal("Close left the quiet loop running")
	}
}
