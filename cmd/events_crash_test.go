package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/cluster/clustertest"
)

// startNATS runs a real nats-server with JetStream in the test process, listening on a free
// loopback port, and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// startNATSOn runs a nats-server with JetStream on storeDir (a stopped node's embedded store),
// listening on a free loopback port, and returns its URL.
func startNATSOn(t *testing.T, storeDir string) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: storeDir,
		NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// change is one booking change a client saw acknowledged (or refused): a hold's event type.
type change struct {
	hold string
	typ  events.Type
}

// TestKill9PublishesEveryAcknowledgedChange boots the real binary with its events going to a
// real NATS server, runs a burst of holds, confirms and cancels on several resources, kills the
// node with SIGKILL in the middle, restarts it, and reads the JetStream stream from the start:
// every acknowledged change's event is there (at least once), no event exists for a change
// that was refused, and after deduplication by id each resource's events are in version order.
func TestKill9PublishesEveryAcknowledgedChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	kill9PublishesEveryAcknowledgedChange(t, startNATS(t))
}

// TestKill9PublishesEveryAcknowledgedChangeEmbedded is the same on the node's embedded server
// (its JetStream files die with the node's process): the stream is read from the node's data
// directory after a graceful stop, by a server of the test on the same files.
func TestKill9PublishesEveryAcknowledgedChangeEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	kill9PublishesEveryAcknowledgedChange(t, "")
}

// kill9PublishesEveryAcknowledgedChange runs the kill -9 scenario against a node that publishes
// to natsURL, or to its embedded server when natsURL is empty.
func kill9PublishesEveryAcknowledgedChange(t *testing.T, natsURL string) {
	bin := clustertest.MustBinary(t)
	dataDir := t.TempDir()
	t.Cleanup(func() { keepOnFailure(t, dataDir) }) // runs before TempDir's removal
	var extra []string
	if natsURL != "" {
		extra = []string{"--nats-url", natsURL}
	}
	n := clustertest.StartNode(t, bin, clustertest.NodeOptions{Name: "solo", DataDir: dataDir, ExtraArgs: extra})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, auth.DevKeyFile(dataDir)))
	c.MaxRetries = 0 // a request in flight at the kill is simply unacknowledged
	resources := []string{"ev-1", "ev-2", "ev-3"}
	for _, rid := range resources {
		if err := c.CreateResource(ctx, n.URL(), rid, map[string]int64{"all": 100000}, "1h"); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	acked := map[change]bool{}
	refused := map[change]bool{}
	record := func(m map[change]bool, hold string, typ events.Type) {
		mu.Lock()
		m[change{hold, typ}] = true
		mu.Unlock()
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 12 {
		wg.Go(func() {
			rid := resources[w%len(resources)]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h, p, err := c.PlaceHold(ctx, n.URL(), rid, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("u%d", w), []string{"all"}, 1)
				if err != nil || p != nil {
					continue
				}
				record(acked, h.ID, events.HoldPlaced)
				switch i % 3 {
				case 0: // confirm, then cancel the confirmed hold
					if _, p, err := c.Transition(ctx, n.URL(), rid, h.ID, "confirm"); err == nil && p == nil {
						record(acked, h.ID, events.HoldConfirmed)
						if _, p, err := c.Transition(ctx, n.URL(), rid, h.ID, "cancel"); err == nil && p == nil {
							record(acked, h.ID, events.HoldCancelled)
						}
					}
				case 1: // cancel, then a confirm that must be refused
					if _, p, err := c.Transition(ctx, n.URL(), rid, h.ID, "cancel"); err == nil && p == nil {
						record(acked, h.ID, events.HoldCancelled)
						if _, p, err := c.Transition(ctx, n.URL(), rid, h.ID, "confirm"); err == nil && p != nil {
							record(refused, h.ID, events.HoldConfirmed)
						}
					}
				}
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		k, r := len(acked), len(refused)
		mu.Unlock()
		if (k >= 600 && r >= 20) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Kill()
	close(stop)
	wg.Wait()
	if len(acked) < 50 || len(refused) == 0 {
		t.Fatalf("only %d changes acknowledged and %d refused before the kill", len(acked), len(refused))
	}

	n.Start()
	n.WaitReady(30 * time.Second)
	// One more change after the restart: its event must follow the others.
	after, p, err := c.PlaceHold(ctx, n.URL(), "ev-1", "after-restart", "u-after", []string{"all"}, 1)
	if err != nil || p != nil {
		t.Fatalf("hold after restart: %v %+v", err, p)
	}
	acked[change{after.ID, events.HoldPlaced}] = true

	if natsURL == "" { // the embedded stream: a graceful stop publishes what is left, then read its files
		if err := n.Stop(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		natsURL = startNATSOn(t, filepath.Join(dataDir, "nats"))
	}
	seen, order := readStream(t, ctx, natsURL, acked)
	for ch := range acked {
		if !seen[ch] {
			t.Errorf("acknowledged %s of hold %s has no event", ch.typ, ch.hold)
		}
	}
	for ch := range refused {
		if seen[ch] {
			t.Errorf("refused %s of hold %s has an event", ch.typ, ch.hold)
		}
	}
	for rid, vs := range order {
		for i := 1; i < len(vs); i++ {
			if !(vs[i-1][0] < vs[i][0] || vs[i-1][0] == vs[i][0] && vs[i-1][1] < vs[i][1]) {
				t.Fatalf("%s: event %d/%d after %d/%d in the stream", rid, vs[i][0], vs[i][1], vs[i-1][0], vs[i-1][1])
			}
		}
	}
	t.Logf("%d acknowledged changes (%d refused) around kill -9; all published, versions in order", len(acked), len(refused))
}

// keepOnFailure copies a failed run's data directory (the SQLite file and the embedded
// JetStream's files) out of the test's temporary directory, so that a rare failure can be
// read afterwards (round 15: the publish window's reorders after kill -9).
func keepOnFailure(t *testing.T, dataDir string) {
	if !t.Failed() {
		return
	}
	dst, err := os.MkdirTemp("", "allot-kill9-failed-")
	if err == nil {
		err = os.CopyFS(dst, os.DirFS(dataDir))
	}
	if err != nil {
		t.Logf("keeping the data directory: %v", err)
		return
	}
	t.Logf("the failed run's data directory is kept in %s", dst)
}

// readStream reads the events stream from the start until every change of want was seen (or
// a minute passed), deduplicating by id; it returns the changes seen and each resource's
// (version, index) sequence in stream order.
func readStream(t *testing.T, ctx context.Context, url string, want map[change]bool) (map[change]bool, map[string][][2]uint64) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, bus.EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[change]bool{}
	ids := map[string]bool{}
	order := map[string][][2]uint64{}
	missing := len(want)
	deadline := time.Now().Add(time.Minute)
	for missing > 0 && time.Now().Before(deadline) {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			continue // nothing new yet: the relay republishes after its restart
		}
		var rec events.Record
		if err := json.Unmarshal(msg.Data(), &rec); err != nil {
			t.Fatalf("event %s: %v", msg.Data(), err)
		}
		if msg.Headers().Get(jetstream.MsgIDHeader) != rec.ID || msg.Subject() != events.Subject(rec.Type, rec.ResourceID) {
			t.Fatalf("message %s on %s with id %q", rec.ID, msg.Subject(), msg.Headers().Get(jetstream.MsgIDHeader))
		}
		if ids[rec.ID] {
			continue
		}
		ids[rec.ID] = true
		order[rec.ResourceID] = append(order[rec.ResourceID], [2]uint64{rec.Version, uint64(rec.Index)})
		var h events.HoldData
		if rec.Type == events.HoldPlaced || rec.Type == events.HoldConfirmed || rec.Type == events.HoldCancelled {
			if err := json.Unmarshal(rec.Data, &h); err != nil {
				t.Fatalf("event %s data: %v", rec.ID, err)
			}
			ch := change{h.ID, rec.Type}
			if want[ch] && !seen[ch] {
				missing--
			}
			seen[ch] = true
		}
	}
	return seen, order
}
