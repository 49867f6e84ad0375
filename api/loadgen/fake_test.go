package loadgen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/wire"
)

// fakeAllot is a small in-memory stand-in for Allot's HTTP API, to test Run's engine and
// audit until the end-to-end test against a real node exists. Its knobs inject the faults
// the audit must catch.
type fakeAllot struct {
	mu        sync.Mutex
	buckets   map[string]map[string]*wire.Bucket
	holds     map[string]*wire.Hold
	idem      map[string]string // resource|key -> hold id
	seq       int
	attempts  int
	oversell  bool   // skip the capacity check
	forget    bool   // acknowledge holds without counting them
	busyEvery int    // answer 429 (Retry-After: 0) to every n-th hold attempt
	onHold    func() // called on every hold attempt, outside the lock
	lossy     int    // apply every n-th hold, confirm and cancel, then answer 500 (outcome unknown)
	writes    int
}

// mustFakeAllot serves f on 127.0.0.1 until the test ends and returns its base URL.
func mustFakeAllot(tb testing.TB, f *fakeAllot) string {
	tb.Helper()
	f.buckets = map[string]map[string]*wire.Bucket{}
	f.holds = map[string]*wire.Hold{}
	f.idem = map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/resources", f.create)
	mux.HandleFunc("GET /v1/resources/{rid}/availability", f.availability)
	mux.HandleFunc("POST /v1/resources/{rid}/holds", f.hold)
	mux.HandleFunc("POST /v1/resources/{rid}/holds/{hid}/{op}", f.transition)
	mux.HandleFunc("GET /v1/resources/{rid}/holds/{hid}", f.getHold)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv.URL
}

func problem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":%q,"title":%q,"status":%d,"code":%q}`, wire.ProblemTypeBase+strings.ReplaceAll(code, "_", "-"), code, status, code)
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAllot) create(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateResource
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, 400, "malformed")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.buckets[req.ID]; ok {
		problem(w, 409, "already_exists")
		return
	}
	bs := map[string]*wire.Bucket{}
	for k, c := range req.Buckets {
		bs[k] = &wire.Bucket{Capacity: c}
	}
	f.buckets[req.ID] = bs
	answer(w, 201, map[string]string{"id": req.ID})
}

func (f *fakeAllot) availability(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bs, ok := f.buckets[r.PathValue("rid")]
	if !ok {
		problem(w, 404, "not_found")
		return
	}
	out := wire.Availability{ResourceID: r.PathValue("rid"), Buckets: map[string]wire.Bucket{}}
	for k, b := range bs {
		c := *b
		c.Available = c.Capacity - c.Held - c.Confirmed
		out.Buckets[k] = c
	}
	answer(w, 200, out)
}

func (f *fakeAllot) hold(w http.ResponseWriter, r *http.Request) {
	rid := r.PathValue("rid")
	var req wire.PlaceHold
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, 400, "malformed")
		return
	}
	if f.onHold != nil {
		f.onHold()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.busyEvery > 0 && f.attempts%f.busyEvery == 0 {
		w.Header().Set("Retry-After", "0")
		problem(w, 429, "busy")
		return
	}
	bs, ok := f.buckets[rid]
	if !ok {
		problem(w, 404, "not_found")
		return
	}
	key := rid + "|" + r.Header.Get("Idempotency-Key")
	if id, ok := f.idem[key]; ok {
		answer(w, 201, f.holds[id])
		return
	}
	for _, k := range req.Buckets {
		b, ok := bs[k]
		if !ok {
			problem(w, 422, "invalid")
			return
		}
		if !f.oversell && b.Capacity-b.Held-b.Confirmed < req.Quantity {
			problem(w, 409, "sold_out")
			return
		}
	}
	f.seq++
	h := &wire.Hold{ID: fmt.Sprintf("h-%d", f.seq), ResourceID: rid, Status: "held", Buckets: req.Buckets, Quantity: req.Quantity, UserID: req.UserID}
	f.holds[h.ID] = h
	f.idem[key] = h.ID
	if !f.forget {
		for _, k := range req.Buckets {
			bs[k].Held += req.Quantity
		}
	}
	if f.lose() {
		problem(w, 500, "internal")
		return
	}
	answer(w, 201, h)
}

func (f *fakeAllot) transition(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("hid")]
	if !ok || h.ResourceID != r.PathValue("rid") {
		problem(w, 404, "not_found")
		return
	}
	bs := f.buckets[h.ResourceID]
	switch op := r.PathValue("op"); {
	case op == "confirm" && h.Status == "held":
		h.Status = "confirmed"
		for _, k := range h.Buckets {
			if !f.forget {
				bs[k].Held -= h.Quantity
				bs[k].Confirmed += h.Quantity
			}
		}
	case op == "cancel" && (h.Status == "held" || h.Status == "confirmed"):
		for _, k := range h.Buckets {
			if f.forget {
				continue
			}
			if h.Status == "held" {
				bs[k].Held -= h.Quantity
			} else {
				bs[k].Confirmed -= h.Quantity
			}
		}
		h.Status = "cancelled"
	default:
		problem(w, 409, "conflict")
		return
	}
	if f.lose() {
		problem(w, 500, "internal")
		return
	}
	answer(w, 200, h)
}

// lose reports whether the write just applied is to be answered 500. f.mu is held.
func (f *fakeAllot) lose() bool {
	f.writes++
	return f.lossy > 0 && f.writes%f.lossy == 0
}

func (f *fakeAllot) getHold(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("hid")]
	if !ok || h.ResourceID != r.PathValue("rid") {
		problem(w, 404, "not_found")
		return
	}
	answer(w, 200, h)
}
