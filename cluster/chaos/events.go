package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/cluster/clustertest"
)

// Expectations are what the history says the event stream must and may hold.
//
//   - Acked: every acknowledged change (a hold placed, confirmed or cancelled with an ok
//     answer, a repeat included: it names a change that happened) must have its event.
//   - Maybe: changes of known holds whose request ended unknown, or refused after an
//     uncertain attempt, may have one.
//   - UnknownHolds: placements that ended unknown (or refused after an uncertain attempt);
//     their hold ids were never learnt, so the stream may hold that many holds the history
//     does not know, with any of their changes.
//
// Any other hold change on the stream is for something that did not happen.
type Expectations struct {
	Acked, Maybe map[clustertest.Change]bool
	UnknownHolds int
}

// ExpectEvents derives the Expectations of a history.
func ExpectEvents(ops []*Op) Expectations {
	x := Expectations{Acked: map[clustertest.Change]bool{}, Maybe: map[clustertest.Change]bool{}}
	typeOf := map[Kind]events.Type{KindHold: events.HoldPlaced, KindConfirm: events.HoldConfirmed, KindCancel: events.HoldCancelled}
	for _, op := range ops {
		possible := op.Result == ResultUnknown || op.Uncertain
		if op.Kind == KindJoin {
			// The entry's hold is placed when it is offered, if ever.
			switch {
			case op.Result == ResultOK && op.HoldID != "":
				x.Maybe[clustertest.Change{Hold: op.HoldID, Type: events.HoldPlaced}] = true
			case possible:
				x.UnknownHolds++
			}
			continue
		}
		typ, ok := typeOf[op.Kind]
		if !ok {
			continue
		}
		switch {
		case op.Result == ResultOK && op.HoldID != "":
			x.Acked[clustertest.Change{Hold: op.HoldID, Type: typ}] = true
		case possible && op.HoldID != "":
			x.Maybe[clustertest.Change{Hold: op.HoldID, Type: typ}] = true
		case possible && op.Kind == KindHold:
			x.UnknownHolds++
		}
	}
	return x
}

// StreamProblems checks a stream log against the expectations and the outbox's log
// (clustertest.StreamLog.EventProblems: nothing acknowledged without its event, nothing that
// did not happen, each event once, per-resource version order, stream = outbox), admitting
// up to x.UnknownHolds holds the history never learnt.
func (x Expectations) StreamProblems(log *clustertest.StreamLog, committed []events.Record) []string {
	known := map[string]bool{}
	for _, m := range []map[clustertest.Change]bool{x.Acked, x.Maybe} {
		for ch := range m {
			known[ch.Hold] = true
		}
	}
	maybe := map[clustertest.Change]bool{}
	for ch := range x.Maybe {
		maybe[ch] = true
	}
	strangers := map[string]bool{}
	for ch := range log.Changes() {
		if !known[ch.Hold] {
			strangers[ch.Hold] = true
			maybe[ch] = true
		}
	}
	out := log.EventProblems(x.Acked, maybe, committed, 10)
	if len(strangers) > x.UnknownHolds {
		out = append(out, fmt.Sprintf("%d holds on the stream the clients never had acknowledged, but only %d placements ended unknown",
			len(strangers), x.UnknownHolds))
	}
	return out
}

// checkEvents reads the outbox (GET /v1/events) and the JetStream stream once the round is
// healed, and adds a failure for every problem StreamProblems finds.
func checkEvents(ctx context.Context, t *testing.T, rep *Report, ops []*Op, tb *Testbed) {
	x := ExpectEvents(ops)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cl := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, tb.KeyFile))
	var committed []events.Record
	var err error
	for _, ep := range tb.Endpoints {
		if committed, err = cl.EventLog(ctx, ep.URL); err == nil {
			break
		}
	}
	if err != nil {
		rep.Failures = append(rep.Failures, "events: "+err.Error())
		return
	}
	start := time.Now()
	log, err := clustertest.ReadStream(ctx, tb.NATS.URL(), func(l *clustertest.StreamLog) bool {
		for _, rec := range committed {
			if l.Copies[rec.ID] == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		rep.Failures = append(rep.Failures, "events: "+err.Error())
	}
	if log == nil {
		return
	}
	problems := x.StreamProblems(log, committed)
	for _, p := range problems {
		rep.Failures = append(rep.Failures, "events: "+p)
	}
	rep.Stream = fmt.Sprintf("%d committed (outbox), %d on the stream, read in %s; %d acknowledged changes, %d maybe, %d unknown placements; %d problems",
		len(committed), len(log.Records), time.Since(start).Round(time.Millisecond), len(x.Acked), len(x.Maybe), x.UnknownHolds, len(problems))
}
