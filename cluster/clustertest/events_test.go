package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// hookReceiver is a webhook endpoint on 127.0.0.1 that verifies and keeps every delivery.
type hookReceiver struct {
	srv *httptest.Server
	wh  *standardwebhooks.Webhook

	mu      sync.Mutex
	changes map[clustertest.Change]bool
	ids     map[string]bool // webhook-id: deliveries after deduplication
	bad     []string
	more    chan struct{}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{changes: map[clustertest.Change]bool{}, ids: map[string]bool{}, more: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.wh == nil || r.wh.Verify(body, req.Header) != nil {
			r.bad = append(r.bad, "unsigned or badly signed delivery "+req.Header.Get("webhook-id"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev struct {
			Type events.Type     `json:"type"`
			Data events.HoldData `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			r.bad = append(r.bad, fmt.Sprintf("delivery %s: %v", body, err))
		}
		r.ids[req.Header.Get("webhook-id")] = true
		r.changes[clustertest.Change{Hold: ev.Data.ID, Type: ev.Type}] = true
		select {
		case r.more <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// missing counts the changes of want the receiver has not had.
func (r *hookReceiver) missing(want map[clustertest.Change]bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for ch := range want {
		if !r.changes[ch] {
			n++
		}
	}
	return n
}

// streamLeader names the NATS server leading the events stream.
func streamLeader(t *testing.T, ctx context.Context, url string) string {
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
	st, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil || info.Config.Replicas != 3 {
		t.Fatalf("stream info: %v %+v (want 3 replicas)", err, info)
	}
	return info.Cluster.Leader
}

// TestEventsOnANATSClusterWhileAServerRestarts runs three nodes publishing to a three-server
// JetStream cluster (--nats-url, --nats-replicas 3) with a webhook registered against a
// receiver on 127.0.0.1, books through HTTP on every node, and restarts the server leading the
// events stream in the middle. Then every committed event (the outbox, GET /v1/events) is on
// the stream exactly once, every acknowledged change has its event and reaches the webhook,
// nothing refused does, and each resource's events are in version order; and a public
// availability stream opened on another node before the load ends at the resource's state.
func TestEventsOnANATSClusterWhileAServerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real node and nats-server processes")
	}
	natsc := clustertest.StartNATSCluster(t, 3)
	c := &testCluster{t: t, bin: clustertest.MustBinary(t), db: pgtest.MustServer(t).MustDatabase(t), key: clustertest.KeyFile(t),
		secrets: clustertest.NewPeerSecrets(t),
		extra:   []string{"--nats-url", natsc.URL(), "--nats-replicas", "3", "--webhook-allow-private"}}
	for range 3 {
		c.add()
	}
	c.waitMembers(3, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cl := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, c.key))
	cl.Failover = c.urls
	urls := c.urls()

	rcv := newHookReceiver(t)
	r, err := cl.Do(ctx, http.MethodPost, urls[0]+"/v1/webhooks", "", map[string]any{"url": rcv.srv.URL,
		"event_types": []string{"hold.placed", "hold.confirmed", "hold.cancelled"}})
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("register webhook: %v %+v", err, r)
	}
	var ep struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(r.Body, &ep); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.wh = wh
	rcv.mu.Unlock()
	resources := createResources(t, ctx, cl, urls, "nev", 3, 100000)
	// A phone watching the first resource's availability on the second node (the owner may be
	// any node: the stream follows the events from the bus, across the server restart).
	watch := watchAvailability(t, ctx, urls[1], resources[0])

	var mu sync.Mutex
	acked, maybe, refused := map[clustertest.Change]bool{}, map[clustertest.Change]bool{}, map[clustertest.Change]bool{}
	lostPlacements := 0 // placements without a definite answer: their hold ids are unknown
	record := func(m map[clustertest.Change]bool, hold string, typ events.Type) {
		mu.Lock()
		m[clustertest.Change{Hold: hold, Type: typ}] = true
		mu.Unlock()
	}
	// transition records a confirm or cancel: acknowledged, refused, or maybe applied.
	transition := func(base, rid, hid, op string, typ events.Type) bool {
		_, p, err := cl.Transition(ctx, base, rid, hid, op)
		switch {
		case err != nil:
			record(maybe, hid, typ)
		case p != nil:
			record(refused, hid, typ)
		default:
			record(acked, hid, typ)
			return true
		}
		return false
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				base, rid := urls[(w+i)%len(urls)], resources[(w+i)%len(resources)]
				h, p, err := cl.PlaceHold(ctx, base, rid, fmt.Sprintf("nev-w%d-%d", w, i), fmt.Sprintf("u%d", w), []string{"all"}, 1)
				if err != nil || p != nil {
					mu.Lock()
					lostPlacements += map[bool]int{true: 1}[err != nil]
					mu.Unlock()
					continue
				}
				record(acked, h.ID, events.HoldPlaced)
				switch i % 3 {
				case 0:
					if transition(base, rid, h.ID, "confirm", events.HoldConfirmed) {
						transition(base, rid, h.ID, "cancel", events.HoldCancelled)
					}
				case 1: // cancel, then a confirm the resource refuses
					if transition(base, rid, h.ID, "cancel", events.HoldCancelled) {
						transition(base, rid, h.ID, "confirm", events.HoldConfirmed)
					}
				}
			}
		})
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(time.Minute); count() < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond) // load progress: polled
		}
	}
	waitFor(100)
	leader := streamLeader(t, ctx, natsc.URL())
	var restarted *clustertest.NATSServer
	for _, s := range natsc.Servers {
		if s.Name == leader {
			restarted = s
		}
	}
	if restarted == nil {
		t.Fatalf("stream leader %q is none of the servers", leader)
	}
	before := count()
	if err := restarted.Restart(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted %s (the stream's leader) after %d changes; %d acknowledged while it was away", leader, before, count()-before)
	waitFor(count() + 100)
	close(stop)
	wg.Wait()
	if len(refused) == 0 {
		t.Fatalf("no transition was refused among %d acknowledged changes", len(acked))
	}

	committed, err := cl.EventLog(ctx, urls[0])
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, rec := range committed {
		ids[rec.ID] = true
	}
	readCtx, readCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer readCancel()
	log, err := clustertest.ReadStream(readCtx, natsc.URL(), func(l *clustertest.StreamLog) bool {
		return len(l.Records) >= len(ids) && l.Has(acked)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A hold whose placement had no definite answer has an id the test never learnt: its
	// changes may be on the stream, one hold per such placement at most.
	known := map[string]bool{}
	for ch := range acked {
		known[ch.Hold] = true
	}
	unknown := map[string]bool{}
	for ch := range log.Changes() {
		if !known[ch.Hold] {
			unknown[ch.Hold] = true
			maybe[ch] = true
		}
	}
	if len(unknown) > lostPlacements {
		t.Errorf("%d holds on the stream were never acknowledged, but only %d placements went unanswered", len(unknown), lostPlacements)
	}
	for _, p := range log.EventProblems(acked, maybe, committed, 10) {
		t.Error(p)
	}
	for ch := range refused {
		if log.Changes()[ch] {
			t.Errorf("refused %s of hold %s has an event", ch.Type, ch.Hold)
		}
	}

	// The webhook (a durable consumer on the same cluster) gets every acknowledged change.
	until := time.After(2 * time.Minute)
	for n := rcv.missing(acked); n > 0; n = rcv.missing(acked) {
		select {
		case <-rcv.more:
		case <-time.After(time.Second):
		case <-until:
			t.Fatalf("%d of %d acknowledged changes never reached the webhook", n, len(acked))
		}
	}
	// The stream ends at the resource's state after the load, as another node reads it.
	for deadline := time.Now().Add(time.Minute); ; {
		got, id, n := watch.snapshot()
		want, err := cl.Availability(ctx, urls[2], resources[0])
		if err == nil && sameBuckets(got, *want) {
			t.Logf("availability stream of %s: %d updates, the last (version %s) is the state after the load", resources[0], n, id)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("availability stream of %s after %d updates shows %+v (version %s), the resource is %+v (%v)", resources[0], n, got.Buckets, id, want, err)
		}
		select {
		case <-watch.more:
		case <-time.After(200 * time.Millisecond):
		}
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, b := range rcv.bad {
		t.Error(b)
	}
	for ch := range rcv.changes {
		if !acked[ch] && !maybe[ch] {
			t.Errorf("webhook delivered %s of hold %s, which did not happen", ch.Type, ch.Hold)
		}
	}
	t.Logf("%d acknowledged changes, %d refused, %d events committed, each on the stream once; %d webhook deliveries",
		len(acked), len(refused), len(committed), len(rcv.ids))
}
