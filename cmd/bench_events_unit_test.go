package cmd

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The events section's receiver counts a delivery once per webhook-id, measures its delay
// from the payload's timestamp, and refuses (and counts) a delivery whose signature fails.
func TestBenchWebhookReceiverVerifiesAndTimesDeliveries(t *testing.T) {
	rcv := newWebhookReceiver(t)
	at := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	rcv.now = func() time.Time { return at.Add(250 * time.Millisecond) }
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	if err := rcv.setSecret(secret); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"id":"r1/2/0","type":"hold.placed","timestamp":"2026-12-06T01:00:00Z","resource_id":"r1","data":null}`
	// The library checks webhook-timestamp against its own clock: sign at the real time.
	signed := time.Now()
	send := func(id, sig string) int {
		req, err := http.NewRequest(http.MethodPost, rcv.srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if sig == "" {
			if sig, err = wh.Sign(id, signed, []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(signed.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("msg_1", ""); code != http.StatusNoContent {
		t.Fatalf("a signed delivery got %d", code)
	}
	if code := send("msg_1", ""); code != http.StatusNoContent {
		t.Fatalf("a repeated delivery got %d", code)
	}
	if code := send("msg_2", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))); code != http.StatusBadRequest {
		t.Fatalf("a forged delivery got %d", code)
	}
	n, last := rcv.delivered("r1")
	if n != 1 || !last.Equal(at.Add(250*time.Millisecond)) || rcv.dups != 1 || rcv.bad != 1 {
		t.Fatalf("delivered %d (last %s), %d duplicates, %d bad", n, last, rcv.dups, rcv.bad)
	}
	if d := rcv.delays["r1"]; len(d) != 1 || d[0] != 250*time.Millisecond {
		t.Fatalf("delays %v, want [250ms]", d)
	}
}

// The summary row compares the medians and gives the verdict against 0.90.
func TestBenchEventsTargetRow(t *testing.T) {
	series := func(hs ...float64) *benchSeries {
		s := &benchSeries{Sys: &benchSystem{Label: "x"}, Clients: eventsClients}
		for _, h := range hs {
			s.Runs = append(s.Runs, benchRun{HoldsPerSec: h, AuditOK: true})
		}
		return s
	}
	for _, tc := range []struct {
		on   []float64
		want string
	}{
		{[]float64{950, 900, 990}, "0.95× (950 vs 1,000 holds/s)"},
		{[]float64{500, 890, 100}, "0.50× (500 vs 1,000 holds/s)"},
	} {
		b := &bench{cfg: benchConfig{Runs: 3}, events: []*eventsResult{{Store: "embedded SQLite", On: series(tc.on...), Off: series(1000, 1200, 800),
			Delays: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}}}}
		var w strings.Builder
		b.writeEventsTarget(&w)
		verdict := "**met**"
		if b.events[0].ratio() < targetEventsRatio {
			verdict = "**missed**"
		}
		if !strings.Contains(w.String(), tc.want) || !strings.Contains(w.String(), verdict) || !strings.Contains(w.String(), "p50 20.0 ms") {
			t.Errorf("row %q lacks %q or %s", w.String(), tc.want, verdict)
		}
		w.Reset()
		b.writeEventsSection(&w)
		if !strings.Contains(w.String(), "## 6.") || !strings.Contains(w.String(), "occurred_at") {
			t.Errorf("section lacks its heading or says not where the delay starts: %s", w.String())
		}
	}
}
