package notify

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs the transcripts in testdata: each is the life of one hold told as events
// and the passing of time, with what Decide and DecideTimer answer, a timer table kept as
// the store keeps it. Commands:
//
//	event <type> v=<version> [status=<s>] [expires=<+dur>] [start=<+dur>]
//	advance <dur>      moves the clock and fires the timers due, against the state then
//
// Rewrite the expected output after a deliberate change with
// go test ./api/notify -run Scenarios -rewrite, and read the diff.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{now: t0, rules: DefaultRules(), timers: map[string]Timer{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := s.run(d)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}

type scenario struct {
	now    time.Time
	rules  Rules
	hold   *HoldState
	timers map[string]Timer
	events int
}

func (s *scenario) rel(t time.Time) string { return "+" + t.Sub(t0).String() }

func (s *scenario) run(d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "event":
		return s.event(d)
	case "advance":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			return "", err
		}
		s.now = s.now.Add(dur)
		var ids []string
		for id, tm := range s.timers {
			if !tm.DueAt.After(s.now) {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		var out []string
		for _, id := range ids {
			tm := s.timers[id]
			delete(s.timers, id)
			sends := DecideTimer(s.rules, tm, s.hold, s.now)
			if len(sends) == 0 {
				out = append(out, fmt.Sprintf("timer %s fired: moot", id))
			}
			for _, snd := range sends {
				out = append(out, fmt.Sprintf("timer %s fired: send %s", id, snd.Kind))
			}
		}
		return lines(out), nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func (s *scenario) event(d *datadriven.TestData) (string, error) {
	if len(d.CmdArgs) == 0 {
		return "", fmt.Errorf("event needs a type")
	}
	typ := d.CmdArgs[0].Key
	after := HoldState{HoldID: "h1", ResourceID: "r1", UserID: "u1", Status: StatusHeld, Buckets: []string{"2026-12-24"}}
	if s.hold != nil {
		after.Status = s.hold.Status
	}
	in := Input{Type: typ, Now: s.now}
	for _, a := range d.CmdArgs[1:] {
		v := a.Vals[0]
		switch a.Key {
		case "v":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", err
			}
			in.Version = n
		case "status":
			after.Status = v
		case "expires", "start":
			dur, err := time.ParseDuration(strings.TrimPrefix(v, "+"))
			if err != nil {
				return "", err
			}
			if a.Key == "expires" {
				after.ExpiresAt = t0.Add(dur)
			} else {
				in.Start = t0.Add(dur)
			}
		default:
			return "", fmt.Errorf("unknown argument %q", a.Key)
		}
	}
	s.events++
	in.EventID, in.After, in.Prev = "ev"+strconv.Itoa(s.events), after, s.hold
	p := Decide(s.rules, in)
	var out []string
	for _, snd := range p.Sends {
		out = append(out, "send "+string(snd.Kind))
	}
	for _, id := range p.CancelTimers {
		if _, ok := s.timers[id]; ok {
			out = append(out, "cancel timer "+id)
		}
		delete(s.timers, id)
	}
	for _, tm := range p.SetTimers {
		out = append(out, fmt.Sprintf("set timer %s at %s", tm.ID, s.rel(tm.DueAt)))
		s.timers[tm.ID] = tm
	}
	if p.Hold != nil {
		h := *p.Hold
		s.hold = &h
		out = append(out, fmt.Sprintf("hold %s version %d invited=%v", h.Status, h.Version, h.Invited))
	}
	return lines(out), nil
}

func lines(out []string) string {
	if len(out) == 0 {
		return "(nothing)\n"
	}
	return strings.Join(out, "\n") + "\n"
}
