package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// TestEmbeddedServerKeepsNoSubjectCache: the embedded server matches every subject without
// caching it (embeddedOptions: a cache of per-resource subjects pins heap spans after the
// resources passivate), and the stream still stores and delivers every event of many subjects,
// each once, including a republish with the same message id.
func TestEmbeddedServerKeepsNoSubjectCache(t *testing.T) {
	b := openBus(t)
	if b.ns == nil {
		t.Fatal("no embedded server")
	}
	const subjects = 600 // past nats-server's cache size (1,024 entries) with the acks
	ctx := context.Background()
	for i := range subjects {
		m := nats.NewMsg(fmt.Sprintf("%stest.placed.r%d", events.SubjectPrefix, i))
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("id-%d", i))
		m.Data = []byte("{}")
		if _, err := b.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%100 == 0 { // a republish is stored once
			if ack, err := b.JetStream().PublishMsg(ctx, m); err != nil || !ack.Duplicate {
				t.Fatalf("republish %d: duplicate %v, %v", i, ack != nil && ack.Duplicate, err)
			}
		}
	}
	if n := streamMsgs(t, b); n != subjects {
		t.Fatalf("stream holds %d messages, want %d", n, subjects)
	}
	// Every message is delivered once and acknowledged on its own subject.
	st, err := b.JetStream().Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, subjects)
	for len(seen) < subjects {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			if seen[m.Subject()] {
				t.Fatalf("%s delivered twice", m.Subject())
			}
			seen[m.Subject()] = true
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
			n++
		}
		if n == 0 {
			t.Fatalf("delivered %d of %d messages", len(seen), subjects)
		}
	}
	sz, err := b.ns.Subsz(&server.SubszOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sz.NumCache != 0 || sz.NumMatches == 0 {
		t.Fatalf("subject matches %d, cached %d: want matches and nothing cached", sz.NumMatches, sz.NumCache)
	}
}
