package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/webhooks"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/cluster/clustertest"
)

// TestKill9DeliversEveryAcknowledgedChangeByWebhook boots the real binary (events on a real
// NATS server, --webhook-allow-private), registers a webhook against a receiver on 127.0.0.1,
// runs a burst of holds, confirms and cancels, kills the node with SIGKILL in the middle and
// restarts it: every acknowledged change reaches the receiver at least once, signed, and no
// refused change does.
func TestKill9DeliversEveryAcknowledgedChangeByWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	natsURL := startNATS(t)
	bin := clustertest.MustBinary(t)
	dataDir := t.TempDir()
	n := clustertest.StartNode(t, bin, clustertest.NodeOptions{Name: "solo", DataDir: dataDir,
		ExtraArgs: []string{"--nats-url", natsURL, "--webhook-allow-private"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, auth.DevKeyFile(dataDir)))
	rcv := newReceiver(t)
	r, err := c.Do(ctx, http.MethodPost, n.URL()+"/v1/webhooks", "", map[string]any{"url": rcv.srv.URL,
		"event_types": []string{"hold.placed", "hold.confirmed", "hold.cancelled"}})
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("register: %v %+v", err, r)
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
	c.MaxRetries = 0 // a request in flight at the kill is simply unacknowledged
	resources := []string{"wh-1", "wh-2"}
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
	for w := range 6 {
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
				case 0:
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k, r := len(acked), len(refused)
		mu.Unlock()
		if (k >= 200 && r >= 10) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Kill()
	close(stop)
	wg.Wait()
	if len(acked) < 30 || len(refused) == 0 {
		t.Fatalf("only %d changes acknowledged and %d refused before the kill", len(acked), len(refused))
	}
	n.Start()
	n.WaitReady(30 * time.Second)

	// Wait until the receiver has every acknowledged change (deliveries are retried, the
	// durable consumer resumes, the relay republishes what it had not marked). A delivery the
	// killed process had claimed waits for its claim lease (webhooks.Config.ClaimLease, 2
	// minutes) before the restarted node sends it: the bound covers that.
	var seen map[change]bool
	until := time.After(webhooks.DefaultConfig().ClaimLease + 90*time.Second)
	for {
		seen = map[change]bool{}
		for _, d := range rcv.deliveries() {
			if err := wh.Verify(d.body, d.header); err != nil {
				t.Fatalf("delivery %s: signature: %v", d.header.Get("webhook-id"), err)
			}
			var ev struct {
				Type events.Type     `json:"type"`
				Data events.HoldData `json:"data"`
			}
			if err := json.Unmarshal(d.body, &ev); err != nil {
				t.Fatalf("delivery body %s: %v", d.body, err)
			}
			seen[change{ev.Data.ID, ev.Type}] = true
		}
		missing := 0
		for ch := range acked {
			if !seen[ch] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-rcv.more:
		case <-time.After(time.Second):
		case <-until:
			t.Fatalf("%d of %d acknowledged changes never reached the webhook", missing, len(acked))
		}
	}
	for ch := range refused {
		if seen[ch] {
			t.Errorf("refused %s of hold %s was delivered", ch.typ, ch.hold)
		}
	}
	t.Logf("%d acknowledged changes (%d refused) around kill -9; all delivered by webhook", len(acked), len(refused))
}
