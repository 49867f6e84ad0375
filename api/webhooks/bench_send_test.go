package webhooks

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// BenchmarkSignedDelivery measures the least CPU one webhook delivery costs on this machine,
// whatever the pipeline around it: the dispatcher's send (sign, POST over a kept-alive
// connection, read the answer) from PerEndpoint goroutines to a receiver in this process,
// which either answers at once ("send") or also does what the benchmark harness's receiver
// does ("send+verify": read the body, verify the Standard Webhooks signature, decode the
// timestamp). No store, no bus, no records. cpu-ns/delivery is the whole process's CPU (user
// + system, both sides of the connection and the kernel's loopback) per delivery: the floor
// under what the events section's webhook consumer adds per hold (docs/EVENTS.md, Cost).
//
//	go test -run '^$' -bench SignedDelivery -benchtime 20000x ./api/webhooks/
func BenchmarkSignedDelivery(b *testing.B) {
	for _, verify := range []bool{false, true} {
		name := "send"
		if verify {
			name = "send+verify"
		}
		b.Run(name, func(b *testing.B) { benchSignedDelivery(b, verify) })
	}
}

func benchSignedDelivery(b *testing.B, verify bool) {
	secret := newSecret()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if verify {
			var ev struct {
				ResourceID string    `json:"resource_id"`
				Timestamp  time.Time `json:"timestamp"`
			}
			mu.Lock()
			bad := wh.Verify(body, req.Header) != nil || json.Unmarshal(body, &ev) != nil
			seen[req.Header.Get("webhook-id")] = true
			mu.Unlock()
			if bad {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	d, err := NewDispatcher(Config{Store: NewMemStore(), AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ep := Endpoint{ID: "ep-1", URL: srv.URL, EventTypes: []string{"hold.placed"}, Secret: secret}
	now := time.Now()
	payload, err := Payload(event("hotel-1/7/0", "hold.placed", now))
	if err != nil {
		b.Fatal(err)
	}
	workers := d.cfg.PerEndpoint
	var next sync.Mutex
	i := 0
	b.ResetTimer()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				n := i
				i++
				next.Unlock()
				if n >= b.N {
					return
				}
				dl := Delivery{ID: "d", EndpointID: ep.ID, EventID: "hotel-1/7/" + itoa(n), Payload: payload}
				if r := d.send(ep, dl, now); r.err != "" {
					b.Error(r.err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/delivery")
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(buf[i:])
		}
	}
}

// processCPU is the process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
