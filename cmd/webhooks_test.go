package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence/pii"
)

// receiver is a webhook endpoint on 127.0.0.1 that keeps every delivery it is sent.
type receiver struct {
	srv *httptest.Server

	mu   sync.Mutex
	got  []delivery
	more chan struct{} // nudged on each delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{more: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		select {
		case r.more <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// webhookEvent is the part of a delivery's body the test checks.
type webhookEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	ResourceID string `json:"resource_id"`
	Version    uint64 `json:"version"`
	Index      int    `json:"index"`
}

// nodeClient calls one node with tokens minted by its dev issuer.
type nodeClient struct {
	t    *testing.T
	m    *Main
	base string
}

func (c nodeClient) token(spec auth.TokenSpec) string {
	tok, err := c.m.DevIssuer().Mint(spec)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

var webhookAdmin = auth.TokenSpec{Subject: "admin-1", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true, TTL: time.Hour}

// do sends a JSON request as spec and decodes a 2xx answer into out.
func (c nodeClient) do(method, path string, spec auth.TokenSpec, body string, out any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token(spec))
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodPost && strings.Contains(path, "/holds") && !strings.Contains(path, "/holds/") {
		req.Header.Set("Idempotency-Key", "k-"+time.Now().Format(time.RFC3339Nano))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		c.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// sseEvent is one event of a text/event-stream.
type sseEvent struct{ id, event, data string }

// openStream GETs an SSE stream (token: "" for none) and sends its events on the channel,
// which closes when the stream ends.
func openStream(t *testing.T, ctx context.Context, url, token string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close() // a stream's body never ends
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id:"):
				ev.id = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "event:"):
				ev.event = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				ev.data = strings.TrimSpace(line[5:])
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, ch <-chan sseEvent, what string) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: nothing on the stream", what)
	}
	return sseEvent{}
}

// TestMainDeliversSignedWebhooksAndStreams boots the real program: an admin registers a
// webhook against a receiver on 127.0.0.1 (--webhook-allow-private; its secret sealed with
// --data-key-file), a walk-through creates, holds, confirms and cancels; the receiver gets
// every event of the event log, each signed (verified with the Standard Webhooks library),
// and after deduplication by webhook-id they are exactly the log's events in version order.
// The availability stream shows the hold as it happens, and the customer's own stream its
// hold events.
func TestMainDeliversSignedWebhooksAndStreams(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "data.keys")
	line, err := pii.NewKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustRunMain(t, func(c *NodeConfig) {
		c.DataDir = filepath.Join(dir, "data")
		c.WebhookAllowPrivate = true
		c.DataKeyFile = keyFile
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	rcv := newReceiver(t)

	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	c.do(http.MethodPost, "/v1/webhooks", webhookAdmin,
		`{"url":"`+rcv.srv.URL+`/hook","event_types":["resource.created","resource.updated","hold.placed","hold.confirmed","hold.cancelled","hold.expired","hold.extended","bucket.sold_out","bucket.available"]}`, &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("registration answered secret %q", ep.Secret)
	}
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}

	c.do(http.MethodPost, "/v1/resources", webhookAdmin, `{"id":"hotel-1","name":"Hotel","buckets":{"2026-12-24":2},"hold_ttl":"10m"}`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	avail := openStream(t, ctx, c.base+"/v1/resources/hotel-1/availability/stream", "")
	first := nextEvent(t, avail, "availability on connect")
	var a wire.Availability
	if err := json.Unmarshal([]byte(first.data), &a); err != nil || first.event != "availability" || a.Buckets["2026-12-24"].Available != 2 {
		t.Fatalf("first availability event %+v (%v)", first, err)
	}
	customer := auth.TokenSpec{Subject: "u-1", TTL: time.Hour}
	mine := openStream(t, ctx, c.base+"/v1/me/events", c.token(customer))
	// The user feed has its watcher once the stream answered; the availability stream too.

	var h1, h2 wire.Hold
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds", customer, `{"buckets":["2026-12-24"],"quantity":1}`, &h1)
	ev := nextEvent(t, avail, "availability after the hold")
	if err := json.Unmarshal([]byte(ev.data), &a); err != nil || a.Buckets["2026-12-24"].Held != 1 || a.Buckets["2026-12-24"].Available != 1 {
		t.Fatalf("availability after the hold: %+v (%v)", ev, err)
	}
	if my := nextEvent(t, mine, "my events"); my.event != "hold.placed" || !strings.Contains(my.data, h1.ID) {
		t.Fatalf("my events: %+v, want hold.placed of %s", my, h1.ID)
	}
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+h1.ID+"/confirm", customer, "", nil)
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds", customer, `{"buckets":["2026-12-24"],"quantity":1}`, &h2)
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+h2.ID+"/cancel", customer, "", nil)

	var log wire.EventList
	c.do(http.MethodGet, "/v1/events?resource_id=hotel-1&limit=100", webhookAdmin, "", &log)
	var want []string
	types := map[string]bool{}
	for _, e := range log.Data {
		want = append(want, e.ID)
		types[string(e.Type)] = true
	}
	for _, typ := range []string{"resource.created", "hold.placed", "hold.confirmed", "hold.cancelled"} {
		if !types[typ] {
			t.Fatalf("the event log %v has no %s", want, typ)
		}
	}

	deadline := time.After(30 * time.Second)
	for {
		seen := map[string]webhookEvent{}
		for _, d := range rcv.deliveries() {
			if err := wh.Verify(d.body, d.header); err != nil {
				t.Fatalf("delivery %s: signature: %v", d.header.Get("webhook-id"), err)
			}
			var e webhookEvent
			if err := json.Unmarshal(d.body, &e); err != nil || e.ID != d.header.Get("webhook-id") {
				t.Fatalf("delivery body %s (%v), webhook-id %s", d.body, err, d.header.Get("webhook-id"))
			}
			seen[e.ID] = e
		}
		got := make([]webhookEvent, 0, len(seen))
		for _, e := range seen {
			got = append(got, e)
		}
		slices.SortFunc(got, func(a, b webhookEvent) int {
			if a.Version != b.Version {
				return int(a.Version) - int(b.Version)
			}
			return a.Index - b.Index
		})
		ids := make([]string, len(got))
		for i, e := range got {
			ids[i] = e.ID
		}
		if slices.Equal(ids, want) {
			break
		}
		select {
		case <-rcv.more:
		case <-deadline:
			t.Fatalf("the receiver has %v, want the event log's %v", ids, want)
		}
	}

	cancel()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
