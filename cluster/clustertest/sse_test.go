package clustertest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/wire"
)

// availabilityWatch follows GET /v1/resources/{rid}/availability/stream on one node and keeps
// the last availability it was sent, with that event's id (the resource's version).
type availabilityWatch struct {
	mu     sync.Mutex
	last   wire.Availability
	id     string
	events int
	more   chan struct{} // a token after each event
}

// watchAvailability opens the public stream at base for rid; it ends with ctx.
func watchAvailability(t *testing.T, ctx context.Context, base, rid string) *availabilityWatch {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/resources/"+rid+"/availability/stream", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close()
		t.Fatalf("availability stream of %s: %d %s", rid, res.StatusCode, res.Header.Get("Content-Type"))
	}
	w := &availabilityWatch{more: make(chan struct{}, 1)}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var id, data string
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "" && data != "":
				var a wire.Availability
				if json.Unmarshal([]byte(data), &a) == nil {
					w.mu.Lock()
					w.last, w.id, w.events = a, id, w.events+1
					w.mu.Unlock()
					select {
					case w.more <- struct{}{}:
					default:
					}
				}
				id, data = "", ""
			case strings.HasPrefix(line, "id:"):
				id = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "data:"):
				data = strings.TrimSpace(line[5:])
			}
		}
	}()
	return w
}

// snapshot returns the last availability received, its event id and how many events came.
func (w *availabilityWatch) snapshot() (wire.Availability, string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.id, w.events
}

func sameBuckets(a, b wire.Availability) bool {
	if len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for k, v := range a.Buckets {
		if b.Buckets[k] != v {
			return false
		}
	}
	return true
}
