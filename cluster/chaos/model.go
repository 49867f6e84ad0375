package chaos

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The model is the sequential specification of one resource: buckets with a fixed capacity
// and counters of held and confirmed quantity, and holds identified by their Idempotency-Key,
// each absent, held, confirmed or cancelled. Hold TTLs are long (1h) so that expiry never
// happens during a run and is not modelled.
//
//	hold(key, buckets, q)  key known: ok (a replay, nothing changes)
//	                       every bucket has q available: ok, the hold is held
//	                       otherwise: sold_out
//	confirm(key)           held: ok, confirmed; confirmed: ok; cancelled: conflict
//	cancel(key)            held or confirmed: ok, cancelled; cancelled: ok
//	read                   ok with every bucket's held and confirmed counters
//	get(key)               ok with the hold's status
//
// Renewals (extend) and waitlists (join, leave, offers on a cancellation) are in
// model_rules.go.
//
// An operation whose outcome is unknown may have taken effect at any time after its
// invocation or never: its return time is the end of the history and its step applies it if
// the model allows it at that point (else it is a refusal, which changes nothing). Placing it
// last is the "never" case, so every possibility is covered.

// MaxBuckets is the number of buckets per resource the model supports.
const MaxBuckets = 4

// Hold statuses in the model. A waitlist entry is the hold it will be offered as: waiting,
// left (it never will be), or held once offered.
const (
	stAbsent byte = iota
	stHeld
	stConfirmed
	stCancelled
	stWaiting
	stLeft
)

// statusBits of a hold's byte hold its status; the bits above, its renewals.
const statusBits = 3

var statusNames = [...]string{"absent", "held", "confirmed", "cancelled", "waiting", "left"}

func statusByte(s string) (byte, bool) {
	for i, n := range statusNames {
		if n == s && i != 0 {
			return byte(i), true
		}
	}
	return 0, false
}

// ResourceSpec is a resource as created: its buckets (at most MaxBuckets) and their capacity.
type ResourceSpec struct {
	ID       string
	Buckets  []string // sorted
	Capacity int64
	// MaxExtensions is how often a hold may be renewed: the resource's max_extensions (the
	// server's default, 2, when the resource was created without it).
	MaxExtensions int `json:",omitempty"`
}

// state is the model's state: immutable, shared between steps until a step changes it.
type state struct {
	held, confirmed [MaxBuckets]int64
	holds           []byte // status and renewals by hold index; missing entries are absent
	holdsHash       uint64 // sum of mix(i, byte) over present holds
	waiting         []waiter
}

func (s state) status(i int) byte {
	if i < len(s.holds) {
		return s.holds[i] & (1<<statusBits - 1)
	}
	return stAbsent
}

// renewals is how often hold i was extended.
func (s state) renewals(i int) int {
	if i < len(s.holds) {
		return int(s.holds[i] >> statusBits)
	}
	return 0
}

// with returns a copy of s with hold i in status st, its renewals kept.
func (s state) with(i int, st byte) state {
	return s.withByte(i, byte(s.renewals(i))<<statusBits|st)
}

// withByte returns a copy of s with hold i's byte (status and renewals) set to st.
func (s state) withByte(i int, st byte) state {
	n := max(len(s.holds), i+1)
	hs := make([]byte, n)
	copy(hs, s.holds)
	old := hs[i]
	hs[i] = st
	s.holds = hs
	if old != stAbsent {
		s.holdsHash -= mix(i, old)
	}
	if st != stAbsent {
		s.holdsHash += mix(i, st)
	}
	return s
}

func mix(i int, st byte) uint64 {
	z := uint64(i)<<8 | uint64(st)
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s state) hash() uint64 {
	h := s.holdsHash
	for b := 0; b < MaxBuckets; b++ {
		h = h*31 + uint64(s.held[b])
		h = h*31 + uint64(s.confirmed[b])
	}
	for _, w := range s.waiting {
		h = h*31 + uint64(w.hold)
	}
	return h
}

func equalStates(a, b state) bool {
	if a.held != b.held || a.confirmed != b.confirmed || a.holdsHash != b.holdsHash || !slices.Equal(a.waiting, b.waiting) {
		return false
	}
	x, y := a.holds, b.holds
	if len(x) > len(y) {
		x, y = y, x
	}
	if !bytes.Equal(x, y[:len(x)]) {
		return false
	}
	for _, c := range y[len(x):] {
		if c != stAbsent {
			return false
		}
	}
	return true
}

// input is an Op compiled for the model: bucket and hold indexes, parsed answers. It is both
// the Input and the Output of its porcupine.Operation.
type input struct {
	op *Op
	// attempt marks the extra operation compile adds for an op refused after an uncertain
	// attempt: that earlier attempt, which may have been applied at any time later.
	attempt bool
	spec    *ResourceSpec
	hold    int // index of the hold (by Key) within its resource
	// sameUser is, for a join, the indexes of the other entries the same user may have: a
	// join retried after an uncertain attempt is several requests (no Idempotency-Key), each
	// its own entry, and the server refuses a join while the user has an entry waiting.
	sameUser []int
	// renewSlot is, for a renewal with an Idempotency-Key (Op.RenewKey), the index of the slot
	// that records whether the key was applied (stHeld) or not yet (stAbsent): every op with
	// that key is the same renewal, applied at most once; -1 for a renewal without a key.
	renewSlot int
	// keyHold is, for a renewal with a key, the hold (index) of the key's first renewal by
	// call time: the request the key belongs to. A renewal of another hold with it is the key
	// reused for a different request, refused once the key was applied.
	keyHold int
	buckets []int // bucket indexes of a hold
	status  byte  // status in a get's answer

	held, confirmed [MaxBuckets]int64 // a read's answer
	capacityOK      bool              // a read's capacities were the spec's, and no bucket missing or extra
}

// claim moves quantity of the hold from one status's counters to another's.
func (in *input) claim(s state, from, to byte, q int64) state {
	for _, b := range in.buckets {
		switch from {
		case stHeld:
			s.held[b] -= q
		case stConfirmed:
			s.confirmed[b] -= q
		}
		switch to {
		case stHeld:
			s.held[b] += q
		case stConfirmed:
			s.confirmed[b] += q
		}
	}
	return s
}

func (in *input) fits(s state) bool {
	for _, b := range in.buckets {
		if in.spec.Capacity-s.held[b]-s.confirmed[b] < in.op.Qty {
			return false
		}
	}
	return true
}

// step is the model's transition function (see the package comment of this file).
func step(s state, in *input) (bool, state) {
	op := in.op
	st := s.status(in.hold)
	switch op.Kind {
	case KindHold:
		if st != stAbsent {
			return op.Result == ResultOK || op.Result == ResultUnknown, s
		}
		fits := in.fits(s)
		switch op.Result {
		case ResultOK:
			if !fits {
				return false, s
			}
			return true, in.claim(s.with(in.hold, stHeld), stAbsent, stHeld, op.Qty)
		case ResultSoldOut:
			return !fits, s
		case ResultUnknown:
			if fits {
				return true, in.claim(s.with(in.hold, stHeld), stAbsent, stHeld, op.Qty)
			}
			return true, s
		}
	case KindConfirm:
		switch op.Result {
		case ResultOK:
			if st == stHeld {
				return true, in.claim(s.with(in.hold, stConfirmed), stHeld, stConfirmed, op.Qty)
			}
			return st == stConfirmed, s
		case ResultConflict:
			return st == stCancelled, s
		case ResultUnknown:
			if st == stHeld {
				return true, in.claim(s.with(in.hold, stConfirmed), stHeld, stConfirmed, op.Qty)
			}
			return true, s
		}
	case KindCancel:
		switch op.Result {
		case ResultOK, ResultUnknown:
			if st == stHeld || st == stConfirmed {
				return true, in.offer(in.claim(s.with(in.hold, stCancelled), st, stCancelled, op.Qty))
			}
			return st == stCancelled || op.Result == ResultUnknown, s
		}
	case KindRead:
		if op.Result == ResultOK {
			return in.capacityOK && in.held == s.held && in.confirmed == s.confirmed, s
		}
		return true, s // a read without an answer says nothing
	case KindGet:
		switch op.Result {
		case ResultOK:
			return (st == stHeld || st == stConfirmed || st == stCancelled) && in.status == st, s
		case ResultNotFound: // a waitlist entry's hold, not offered (yet)
			return op.Offer && (st == stAbsent || st == stWaiting || st == stLeft), s
		}
		return op.Result == ResultUnknown, s
	case KindExtend, KindJoin, KindLeave:
		return stepRules(s, in, st)
	}
	return false, s // not_found, error, or a result this kind cannot have
}

// Model is the porcupine model of a run's resources, partitioned by resource.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByResource,
		Init:      func() interface{} { return state{} },
		Step: func(s, in, _ interface{}) (bool, interface{}) {
			return step(s.(state), in.(*input))
		},
		Equal: func(a, b interface{}) bool { return equalStates(a.(state), b.(state)) },
		Hash:  func(s interface{}) uint64 { return s.(state).hash() },
		DescribeOperation: func(in, _ interface{}) string {
			return describeOp(in.(*input).op)
		},
		DescribeState: func(s interface{}) string { return describeState(s.(state)) },
	}
}

func partitionByResource(history []porcupine.Operation) [][]porcupine.Operation {
	by := map[string][]porcupine.Operation{}
	for _, o := range history {
		rid := o.Input.(*input).op.Resource
		by[rid] = append(by[rid], o)
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([][]porcupine.Operation, 0, len(ids))
	for _, id := range ids {
		out = append(out, by[id])
	}
	return out
}

// compile turns ops into porcupine operations. Unknown outcomes return at the end of the
// history (after every other call and return); so does the earlier attempt of a hold
// refused sold_out, or of a join with an Idempotency-Key refused, after an uncertain attempt,
// added as an operation of its own, and each earlier attempt of a join without a key
// retried after an uncertain one (an entry of its own). Reads and
// gets without an answer are dropped: they constrain nothing; so are observations marked
// stale, which the API does not promise to be current. Ops of resources not in specs are an
// error.
func compile(ops []*Op, specs map[string]*ResourceSpec) ([]porcupine.Operation, error) {
	var end int64
	for _, op := range ops {
		end = max(end, op.Call, op.Return)
	}
	end++
	// keyFirst is, per resource and renewal key, its first renewal by call time.
	keyFirst := map[[2]string]*Op{}
	for _, op := range ops {
		if op.Kind != KindExtend || op.RenewKey == "" {
			continue
		}
		k := [2]string{op.Resource, op.RenewKey}
		if first := keyFirst[k]; first == nil || op.Call < first.Call {
			keyFirst[k] = op
		}
	}
	holdIdx := map[string]map[string]int{}
	var out []porcupine.Operation
	for _, op := range ops {
		if (op.Kind == KindRead || op.Kind == KindGet) && op.Result == ResultUnknown || op.Stale && op.Observation() {
			continue
		}
		spec := specs[op.Resource]
		if spec == nil {
			return nil, fmt.Errorf("op %d: unknown resource %q", op.ID, op.Resource)
		}
		in := &input{op: op, spec: spec, renewSlot: -1}
		slot := func(name string) int {
			m := holdIdx[op.Resource]
			if m == nil {
				m = map[string]int{}
				holdIdx[op.Resource] = m
			}
			i, ok := m[name]
			if !ok {
				i = len(m)
				m[name] = i
			}
			return i
		}
		if op.Key != "" {
			in.hold = slot(op.Key)
		}
		if op.Kind == KindExtend && op.RenewKey != "" {
			in.renewSlot = slot("\x00renew\x00" + op.RenewKey)
			in.keyHold = slot(keyFirst[[2]string{op.Resource, op.RenewKey}].Key)
		}
		for _, b := range op.Buckets {
			j := sort.SearchStrings(spec.Buckets, b)
			if j == len(spec.Buckets) || spec.Buckets[j] != b {
				return nil, fmt.Errorf("op %d: resource %s has no bucket %q", op.ID, op.Resource, b)
			}
			in.buckets = append(in.buckets, j)
		}
		if op.Kind == KindGet && op.Result == ResultOK {
			in.status, _ = statusByte(op.Status)
		}
		if op.Kind == KindRead && op.Result == ResultOK {
			in.capacityOK = len(op.Avail) == len(spec.Buckets)
			for j, b := range spec.Buckets {
				v, ok := op.Avail[b]
				if !ok || v.Capacity != spec.Capacity {
					in.capacityOK = false
				}
				in.held[j], in.confirmed[j] = v.Held, v.Confirmed
			}
		}
		ret := op.Return
		if op.Result == ResultUnknown {
			ret = end
		}
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: in, Output: in, Call: op.Call, Return: ret})
		switch {
		case op.Kind == KindJoin && !op.Keyed && op.Uncertain && op.Tries > 1:
			// A join without an Idempotency-Key (histories from before joins took one):
			// each earlier attempt may have made an entry of its own (the server chooses
			// each attempt's entry id), not the one the answer names: a slot of its own,
			// which only the offers touch (the client never learns its id).
			m := holdIdx[op.Resource]
			users := []int{in.hold}
			var ats []*input
			for a := 1; a < op.Tries; a++ {
				c := *op
				c.Result = ResultUnknown
				at := *in
				at.op, at.attempt = &c, true
				at.hold = len(m)
				m[fmt.Sprintf("%s\x00attempt%d", op.Key, a)] = at.hold
				users = append(users, at.hold)
				ats = append(ats, &at)
				out = append(out, porcupine.Operation{ClientId: op.Client, Input: &at, Output: &at, Call: op.Call, Return: end})
			}
			in.sameUser = others(users, in.hold)
			for _, at := range ats {
				at.sameUser = others(users, at.hold)
			}
		case op.Result != ResultUnknown && op.Uncertain && (refusedWithKey(op) || retriedTwice(op.Kind) && in.renewSlot < 0):
			// The refusal answered a retry; an earlier attempt of this hold (or keyed join)
			// got no answer and may still be applied, at any time later (a node that was
			// paused with the request in its socket serves it when it resumes). With the
			// same Idempotency-Key it is the same hold or entry: the model lets it be placed
			// (join) after the refusal, or never; a retry answered ok is one operation, the
			// ok naming what the first attempt to apply made. Renewals and leaves have no
			// Idempotency-Key: each earlier attempt is one more renewal or leave, applied
			// or not. A renewal with one is a single operation, whatever its attempts (a
			// refusal answered a retry: an earlier attempt arriving later is refused too,
			// limit_exceeded and conflict being final in a run).
			n := 1
			if retriedTwice(op.Kind) {
				n = max(1, op.Tries-1)
			}
			for range n {
				c := *op
				c.Result = ResultUnknown
				at := *in
				at.op, at.attempt = &c, true
				out = append(out, porcupine.Operation{ClientId: op.Client, Input: &at, Output: &at, Call: op.Call, Return: end})
			}
		}
	}
	return out, nil
}

// refusedWithKey reports whether op, with an Idempotency-Key, was refused: a hold sold out, or
// a keyed join refused (conflict or limit_exceeded).
func refusedWithKey(op *Op) bool {
	switch op.Kind {
	case KindHold:
		return op.Result == ResultSoldOut
	case KindJoin:
		return op.Keyed && op.Result != ResultOK && op.Result != ResultUnknown
	}
	return false
}

// others is slots without self.
func others(slots []int, self int) []int {
	out := make([]int, 0, len(slots)-1)
	for _, i := range slots {
		if i != self {
			out = append(out, i)
		}
	}
	return out
}

func describeOp(op *Op) string {
	var b strings.Builder
	switch op.Kind {
	case KindHold:
		fmt.Fprintf(&b, "hold %s %s×%d", op.Key, strings.Join(op.Buckets, "+"), op.Qty)
	case KindConfirm, KindCancel, KindGet, KindExtend, KindLeave:
		fmt.Fprintf(&b, "%s %s", op.Kind, op.Key)
		if op.RenewKey != "" {
			fmt.Fprintf(&b, " key %s", op.RenewKey)
		}
	case KindJoin:
		fmt.Fprintf(&b, "join %s %s×%d", op.Key, strings.Join(op.Buckets, "+"), op.Qty)
	case KindRead:
		b.WriteString("read")
	}
	fmt.Fprintf(&b, " → %s", op.Result)
	switch {
	case op.Kind == KindRead && op.Result == ResultOK:
		keys := make([]string, 0, len(op.Avail))
		for k := range op.Avail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := op.Avail[k]
			fmt.Fprintf(&b, " %s:%dh+%dc", k, v.Held, v.Confirmed)
		}
	case op.Status != "":
		fmt.Fprintf(&b, " %s", op.Status)
	}
	if op.Node != "" {
		fmt.Fprintf(&b, " [via %s, owner %s]", op.Node, op.Owner)
	}
	return b.String()
}

func describeState(s state) string {
	var b strings.Builder
	for i := 0; i < MaxBuckets; i++ {
		if s.held[i] != 0 || s.confirmed[i] != 0 {
			fmt.Fprintf(&b, "#%d:%dh+%dc ", i, s.held[i], s.confirmed[i])
		}
	}
	var n [1 << statusBits]int
	for _, st := range s.holds {
		n[st&(1<<statusBits-1)]++
	}
	fmt.Fprintf(&b, "holds: %d held, %d confirmed, %d cancelled; waitlist %d", n[stHeld], n[stConfirmed], n[stCancelled], len(s.waiting))
	return b.String()
}
