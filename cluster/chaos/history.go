package chaos

import (
	"encoding/json"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/allot/allot/api/wire"
)

// Kind is what a client operation does.
type Kind string

// Operation kinds.
const (
	KindHold    Kind = "hold"    // POST .../holds with an Idempotency-Key
	KindConfirm Kind = "confirm" // POST .../holds/{hid}/confirm
	KindCancel  Kind = "cancel"  // POST .../holds/{hid}/cancel
	KindRead    Kind = "read"    // GET .../availability
	KindGet     Kind = "get"     // GET .../holds/{hid}
	KindExtend  Kind = "extend"  // POST .../holds/{hid}/extend?user_id= (the owner's renewal)
	KindJoin    Kind = "join"    // POST .../waitlist for a user of its own
	KindLeave   Kind = "leave"   // DELETE .../waitlist/{eid}?user_id=
)

// Result is how an operation ended, as far as the client knows.
type Result string

// Results. Refusals (sold_out, conflict) change nothing; unknown may or may not have taken
// effect, at any time after its invocation; error is never expected from this workload and
// fails the check, and so is not_found, but of a leave (the entry was offered meanwhile) and of
// a get of a waitlist entry's hold (Offer: not offered yet).
const (
	ResultOK       Result = "ok"
	ResultSoldOut  Result = "sold_out"
	ResultConflict Result = "conflict"
	ResultLimit    Result = "limit_exceeded" // a renewal past max_extensions
	// ResultMismatch: a renewal sent with the Idempotency-Key another hold's renewal used
	// (422 idempotency_mismatch); it changes nothing.
	ResultMismatch Result = "idempotency_mismatch"
	ResultUnknown  Result = "unknown"
	ResultNotFound Result = "not_found"
	ResultError    Result = "error"
)

// Op is one client operation of the history. A hold's identity in the model is its
// Idempotency-Key (Key); confirms, cancels and gets carry the Key of the hold they address.
type Op struct {
	ID       int      `json:"id"`
	Client   int      `json:"client"`
	Kind     Kind     `json:"kind"`
	Resource string   `json:"resource"`
	Key      string   `json:"key,omitempty"`
	HoldID   string   `json:"hold_id,omitempty"` // of a join or leave: the entry's offer hold id
	Entry    string   `json:"entry,omitempty"`   // the waitlist entry of a join or leave
	Buckets  []string `json:"buckets,omitempty"`
	Qty      int64    `json:"qty,omitempty"`
	// Repeat marks a confirm or cancel the client re-sent for a hold it already knew to be
	// in (or past) the target status: an answer the resource may give from memory.
	Repeat bool `json:"repeat,omitempty"`
	// Offer marks an op on the hold a waitlist entry is offered as (its Key is the entry's):
	// a get of it may be not_found while the entry waits.
	Offer bool `json:"offer,omitempty"`
	// Keyed marks a join sent with Key as its Idempotency-Key, as every hold is: its
	// attempts are one operation (a retry answers the entry the first attempt made).
	// Histories from before joins took a key have it false.
	Keyed bool `json:"keyed,omitempty"`
	// RenewKey is a renewal's own Idempotency-Key (Key names the hold it renews), empty for a
	// renewal sent without one. Every attempt of the op sends it, and so does an op re-sent
	// after one ended unknown (two ops, one key): the model applies a key at most once.
	RenewKey string `json:"renew_key,omitempty"`
	// Replayed: the answer was marked Idempotent-Replayed (the answer of an earlier attempt).
	Replayed bool `json:"replayed,omitempty"`
	// Extensions is the renewals count in a hold's answer (extend, get, confirm, cancel).
	Extensions int `json:"extensions,omitempty"`

	// Call and Return are nanoseconds since the start of the round. For an unknown result
	// Return is when the client gave up; the checker treats it as the end of the history.
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
	Result Result `json:"result"`

	Status string                 `json:"status,omitempty"` // the hold's status in the answer
	Avail  map[string]wire.Bucket `json:"avail,omitempty"`  // the read's answer
	Code   string                 `json:"code,omitempty"`   // problem code of a 4xx
	HTTP   int                    `json:"http,omitempty"`   // status of the final answer
	Node   string                 `json:"node,omitempty"`   // node that gave the final answer
	Owner  string                 `json:"owner,omitempty"`  // its X-Allot-Owner
	Tries  int                    `json:"tries"`
	// Uncertain: some attempt ended without a definite answer (a timeout, a transport
	// error, a 5xx), so an earlier attempt may have taken effect whatever the final answer.
	Uncertain bool `json:"uncertain,omitempty"`
	// Stale: the answer was marked X-Allot-Stale, which the API documents as possibly not
	// current; the checker leaves such observations out.
	Stale bool   `json:"stale,omitempty"`
	Err   string `json:"err,omitempty"` // last failure, for unknown

	Faults []string `json:"faults,omitempty"` // fault kinds whose window the op overlapped

}

// Observation reports whether the op cannot change state: reads, gets and refusals.
func (o *Op) Observation() bool {
	switch {
	case o.Kind == KindRead || o.Kind == KindGet:
		return true
	case o.Result == ResultSoldOut || o.Result == ResultConflict || o.Result == ResultLimit:
		return true
	case o.Result == ResultNotFound && (o.Kind == KindLeave || o.Offer):
		return true
	}
	return false
}

// Superseded reports whether op was answered by another owner than the last acknowledged
// state change of its resource that completed before op was invoked: the signature of an
// answer from an activation that had been superseded (see RELIABILITY.md). Repeated
// transitions do not count as state changes (they may be answered from memory). ops must
// hold at least the resource's whole history.
//
// Why the owner suffices: a node hosts at most one activation of a resource at a time, and
// an activation whose commit succeeds has loaded, or committed itself, every change committed
// before (the epoch fences it otherwise), so answers from the owner of the last acknowledged
// change are current.
func Superseded(op *Op, ops []*Op) bool {
	var last *Op
	for _, w := range ops {
		if w.Resource != op.Resource || w.Result != ResultOK || w.Observation() || w.Repeat || w.Return >= op.Call {
			continue
		}
		if last == nil || w.Return > last.Return {
			last = w
		}
	}
	return last != nil && op.Owner != "" && last.Owner != op.Owner
}

// lastAcks returns, for every hold id, the op whose acknowledgement Acked reports as its last
// status (nil when the last status comes from an unknown outcome).
func lastAcks(ops []*Op) map[string]*Op {
	byKey := map[string]string{}
	out := map[string]*Op{}
	for _, op := range ops {
		if op.Kind == KindHold && op.Result == ResultOK && op.HoldID != "" {
			if _, ok := byKey[op.Key]; !ok {
				byKey[op.Key] = op.HoldID
				out[op.HoldID] = op
			}
		}
	}
	for _, op := range ops {
		id := byKey[op.Key]
		if id == "" || op.Kind == KindHold || op.Kind == KindGet {
			continue
		}
		switch op.Result {
		case ResultOK, ResultConflict:
			out[id] = op
		case ResultUnknown:
			out[id] = nil
		}
	}
	return out
}

// History records operations concurrently.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []*Op
}

// NewHistory starts the clock of a history.
func NewHistory() *History { return &History{start: time.Now()} }

// Since is the history's clock: nanoseconds since it started.
func (h *History) Since() int64 { return int64(time.Since(h.start)) }

// Start returns the wall-clock time of the history's origin.
func (h *History) Start() time.Time { return h.start }

// Begin stamps op's invocation and adds it.
func (h *History) Begin(op *Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.ID = len(h.ops)
	op.Call = h.Since()
	h.ops = append(h.ops, op)
}

// End stamps op's completion.
func (h *History) End(op *Op) {
	t := h.Since()
	h.mu.Lock()
	defer h.mu.Unlock()
	op.Return = t
}

// Ops returns the operations in invocation order (the slice is a copy; the ops are not).
func (h *History) Ops() []*Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]*Op(nil), h.ops...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// WriteJSON writes the operations, one JSON object per line.
func WriteJSON(path string, ops []*Op) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// ReadJSON reads a history written by WriteJSON (for replaying a check offline).
func ReadJSON(path string) ([]*Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	var ops []*Op
	for dec.More() {
		op := &Op{}
		if err := dec.Decode(op); err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// Acked derives what the audit must find: for every hold placed with an acknowledged answer,
// its last acknowledged status, or the "|"-separated alternatives when a later transition's
// outcome is unknown.
func Acked(ops []*Op) map[string]string {
	type holdState struct{ alts map[string]bool }
	byKey := map[string]string{} // key -> hold id
	states := map[string]*holdState{}
	for _, op := range ops {
		if op.Kind == KindHold && op.Result == ResultOK && op.HoldID != "" {
			byKey[op.Key] = op.HoldID
		}
	}
	// Per hold, its ops are issued by one client one after the other, so invocation order is
	// their real order.
	for _, op := range ops {
		id := byKey[op.Key]
		if id == "" {
			continue
		}
		st := states[id]
		switch {
		case op.Kind == KindHold && op.Result == ResultOK:
			if st == nil {
				states[id] = &holdState{alts: map[string]bool{"held": true}}
			}
		case st == nil:
		case (op.Kind == KindConfirm || op.Kind == KindCancel) && op.Result == ResultOK:
			st.alts = map[string]bool{op.Status: true}
		case op.Kind == KindConfirm && op.Result == ResultConflict:
			st.alts = map[string]bool{"cancelled": true}
		case op.Kind == KindConfirm && op.Result == ResultUnknown:
			st.alts["confirmed"] = true
		case op.Kind == KindCancel && op.Result == ResultUnknown:
			st.alts["cancelled"] = true
		}
	}
	out := make(map[string]string, len(states))
	for id, st := range states {
		var alts []string
		for s := range st.alts {
			alts = append(alts, s)
		}
		sort.Strings(alts)
		v := ""
		for i, a := range alts {
			if i > 0 {
				v += "|"
			}
			v += a
		}
		out[id] = v
	}
	return out
}
