package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Anomaly classes, from harmless-looking to worst. A history that is not linearizable is
// checked again without some operations to say which kind of answer broke it:
//
//   - ClassStaleRead: linearizable without reads and gets (availability, GET hold), so only
//     their answers are wrong: they showed a state that was no longer current;
//   - ClassStaleRefusal: linearizable only without every observation (reads, gets and
//     refusals: sold_out, conflict); a refusal was decided against an outdated state;
//   - ClassStaleAck: linearizable only without the observations and the repeated
//     transitions (Op.Repeat): a confirm or cancel re-sent for a hold already past it was
//     acknowledged from an outdated state (e.g. 200 confirmed for a hold cancelled meanwhile);
//   - ClassWrite: not linearizable even with only the state-changing operations: an
//     acknowledged hold, confirm or cancel contradicts the others (oversell, a lost or
//     resurrected hold). Always a failure.
const (
	ClassNone         = ""
	ClassStaleRead    = "stale-read"
	ClassStaleRefusal = "stale-refusal"
	ClassStaleAck     = "stale-ack"
	ClassWrite        = "write"
	ClassTimeout      = "check-timeout" // porcupine gave up: not checked
)

// ResourceCheck is the verdict on one resource's history.
type ResourceCheck struct {
	Resource string
	Ops      int // operations checked (reads and gets without an answer excluded)
	Unknown  int // of which with an unknown outcome
	Result   porcupine.CheckResult
	Class    string
	// Culprit is the earliest operation that no linearizable prefix of the history could
	// include: the first answer the model cannot explain (a heuristic pointer, not a proof).
	Culprit *Op
	// Context explains the culprit: the state after the longest linearizable prefix and the
	// acknowledged writes that completed before the culprit was invoked.
	Context string
	// Explained reports whether the history becomes linearizable once the answers given by
	// superseded activations (observations and repeated transitions, see Superseded) are
	// removed: the anomaly is then entirely the known stale-activation problem.
	Explained bool
	Duration  time.Duration
}

// Stale reports whether the anomaly is of a stale class (not ClassWrite).
func (c *ResourceCheck) Stale() bool {
	return c.Class == ClassStaleRead || c.Class == ClassStaleRefusal || c.Class == ClassStaleAck
}

// Anomalous reports whether the resource's history is not linearizable.
func (c *ResourceCheck) Anomalous() bool { return c.Result == porcupine.Illegal }

// Verdict is the result of checking a whole history.
type Verdict struct {
	Result    porcupine.CheckResult
	Resources []*ResourceCheck
	Info      porcupine.LinearizationInfo // for the visualization
	Duration  time.Duration
}

// Check checks ops for linearizability against the model, partitioned by resource, each
// partition within timeout. Non-linearizable resources are classified and their culprit
// located.
func Check(ops []*Op, specs map[string]*ResourceSpec, timeout time.Duration) (*Verdict, error) {
	start := time.Now()
	history, err := compile(ops, specs)
	if err != nil {
		return nil, err
	}
	model := Model()
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	v := &Verdict{Result: res, Info: info}
	byRes := map[string][]*Op{}
	for _, op := range ops {
		byRes[op.Resource] = append(byRes[op.Resource], op)
	}
	ids := make([]string, 0, len(byRes))
	for id := range byRes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rc := &ResourceCheck{Resource: id, Result: porcupine.Ok}
		h, _ := compile(byRes[id], specs)
		rc.Ops = len(h)
		for _, o := range h {
			if o.Input.(*input).op.Result == ResultUnknown {
				rc.Unknown++
			}
		}
		if res != porcupine.Ok {
			// Find out which resources failed, one by one.
			checkResource(rc, byRes[id], specs, timeout)
		}
		v.Resources = append(v.Resources, rc)
	}
	v.Duration = time.Since(start)
	return v, nil
}

// checkResource checks one resource's history alone, and classifies and explains a failure.
func checkResource(rc *ResourceCheck, ops []*Op, specs map[string]*ResourceSpec, timeout time.Duration) {
	start := time.Now()
	defer func() { rc.Duration = time.Since(start) }()
	h, _ := compile(ops, specs)
	model := Model()
	model.Partition = nil
	res, info := porcupine.CheckOperationsVerbose(model, h, timeout)
	rc.Result = res
	switch res {
	case porcupine.Unknown:
		rc.Class = ClassTimeout
		return
	case porcupine.Ok:
		return
	}
	rc.Culprit, rc.Context = culprit(model, h, info)
	without := func(drop func(*Op) bool) porcupine.CheckResult {
		var keep []*Op
		for _, op := range ops {
			if !drop(op) {
				keep = append(keep, op)
			}
		}
		hh, _ := compile(keep, specs)
		return porcupine.CheckOperationsTimeout(model, hh, timeout)
	}
	isRead := func(op *Op) bool { return op.Kind == KindRead || op.Kind == KindGet }
	switch {
	case without(isRead) == porcupine.Ok:
		rc.Class = ClassStaleRead
	case without((*Op).Observation) == porcupine.Ok:
		rc.Class = ClassStaleRefusal
	case without(func(op *Op) bool { return op.Observation() || op.Repeat }) == porcupine.Ok:
		rc.Class = ClassStaleAck
	default:
		rc.Class = ClassWrite
	}
	if rc.Stale() {
		explain(rc, model, ops, specs, timeout)
	}
}

// explain sets rc.Explained (see ResourceCheck).
func explain(rc *ResourceCheck, model porcupine.Model, ops []*Op, specs map[string]*ResourceSpec, timeout time.Duration) {
	fresh := func(ops []*Op) []*Op {
		var keep []*Op
		for _, op := range ops {
			if !((op.Observation() || op.Repeat) && Superseded(op, ops)) {
				keep = append(keep, op)
			}
		}
		return keep
	}
	h, _ := compile(fresh(ops), specs)
	rc.Explained = porcupine.CheckOperationsTimeout(model, h, timeout) == porcupine.Ok
}

// culprit returns the earliest-invoked operation that appears in no partial linearization,
// and a description of the state the longest one reached.
func culprit(model porcupine.Model, h []porcupine.Operation, info porcupine.LinearizationInfo) (*Op, string) {
	parts := info.PartialLinearizations()
	if len(parts) == 0 {
		return nil, ""
	}
	seen := map[int]bool{}
	var longest []int
	for _, lin := range parts[0] {
		for _, id := range lin {
			seen[id] = true
		}
		if len(lin) > len(longest) {
			longest = lin
		}
	}
	// Operation ids in LinearizationInfo are indexes into h sorted the way porcupine sorts
	// them (makeEntries assigns ids in the order of the input slice).
	var bad *porcupine.Operation
	for i := range h {
		if !seen[i] && (bad == nil || h[i].Call < bad.Call) {
			bad = &h[i]
		}
	}
	if bad == nil {
		return nil, ""
	}
	var s interface{} = model.Init()
	for _, id := range longest {
		_, s = model.Step(s, h[id].Input, h[id].Output)
	}
	c := bad.Input.(*input).op
	var b strings.Builder
	fmt.Fprintf(&b, "culprit op %d at %s..%s: %s\n", c.ID, fmtNS(c.Call), fmtNS(c.Return), describeOp(c))
	fmt.Fprintf(&b, "state after the longest linearizable prefix (%d of %d ops): %s\n", len(longest), len(h), model.DescribeState(s))
	// The last acknowledged state changes that completed before the culprit was invoked:
	// any linearization must place them before it.
	var before []*Op
	for i := range h {
		op := h[i].Input.(*input).op
		if op.Result == ResultOK && !op.Observation() && op.Return < c.Call {
			before = append(before, op)
		}
	}
	sort.Slice(before, func(i, j int) bool { return before[i].Return < before[j].Return })
	if len(before) > 6 {
		before = before[len(before)-6:]
	}
	for _, op := range before {
		fmt.Fprintf(&b, "  acknowledged before it: op %d at %s..%s: %s\n", op.ID, fmtNS(op.Call), fmtNS(op.Return), describeOp(op))
	}
	// Every operation on the culprit's hold or entry, with its attempts: most anomalies so
	// far were about what one key's earlier attempts may have done.
	if c.Key != "" {
		seenOp := map[*Op]bool{}
		for i := range h {
			op := h[i].Input.(*input).op
			if op.Key != c.Key || seenOp[op] || h[i].Input.(*input).attempt {
				continue
			}
			seenOp[op] = true
			fmt.Fprintf(&b, "  on %s: op %d at %s..%s: %s (tries %d%s)\n", c.Key, op.ID, fmtNS(op.Call), fmtNS(op.Return), describeOp(op), op.Tries, map[bool]string{true: ", uncertain"}[op.Uncertain])
		}
	}
	return c, b.String()
}

func fmtNS(ns int64) string {
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}
