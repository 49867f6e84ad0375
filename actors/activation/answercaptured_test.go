package activation

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestWriteAnswerIsTheDecidedHold: the hold a durable write answers with (taken from the
// decision's captured after-image, answerCaptured) is the hold spec held right after the
// decision (what answerFor read), for random places, extends, confirms and cancels, one at a time.
func TestWriteAnswerIsTheDecidedHold(t *testing.T) {
	c, now := loadedCore(t, booking.Bucket{Key: "a", Capacity: 1000}, booking.Bucket{Key: "b", Capacity: 1000})
	rng := rand.New(rand.NewPCG(17, 9))
	placed, checked := 0, 0
	var last *booking.PlaceHold
	for round := range 1000 {
		now = now.Add(time.Millisecond)
		n := 1
		var cmds []*Command
		for i := range n {
			var op any
			switch k := rng.IntN(8); {
			case k == 7 && last != nil: // a replay: the same command again
				op = *last
			case k < 3 || placed == 0:
				buckets := []string{"a"}
				if rng.IntN(2) == 0 {
					buckets = []string{"a", "b"}
				}
				p := booking.PlaceHold{HoldID: fmt.Sprintf("h%04d", placed), IdempotencyKey: fmt.Sprintf("k%04d", placed),
					UserID: fmt.Sprintf("u%d", placed%7), Quantity: int64(1 + rng.IntN(3)), Buckets: buckets}
				op = p
				last = &p
				placed++
			case k == 3 || k == 4:
				op = booking.ExtendHold{HoldID: fmt.Sprintf("h%04d", rng.IntN(placed))}
			case k == 5:
				op = booking.ConfirmHold{HoldID: fmt.Sprintf("h%04d", rng.IntN(placed))}
			default:
				op = booking.CancelHold{HoldID: fmt.Sprintf("h%04d", rng.IntN(placed))}
			}
			cmds = append(cmds, &Command{Op: op, To: round*10 + i})
		}
		var commits []uint64
		var replies []Reply
		want := map[any]booking.Hold{} // the hold in spec right after its command was decided
		for _, cmd := range cmds {
			rd := c.Step(now, cmd)
			for _, cm := range rd.Commits {
				commits = append(commits, cm.ID)
			}
			replies = append(replies, rd.Replies...)
			if h, ok := c.spec.Hold(holdOf(cmd.Op)); ok {
				want[cmd.To] = h
			}
		}
		for len(commits) > 0 {
			rd := c.Step(now, CommitResult{ID: commits[0], Outcome: Committed})
			commits = commits[1:]
			for _, cm := range rd.Commits {
				commits = append(commits, cm.ID)
			}
			replies = append(replies, rd.Replies...)
		}
		for _, r := range replies {
			a := r.Answer
			if a.Err != nil || a.Resource != nil || a.Entry != nil {
				continue
			}
			h, ok := want[r.To]
			if !ok {
				t.Fatalf("round %d: answered hold %s was not in spec after its decision", round, a.Hold.ID)
			}
			if !reflect.DeepEqual(h, a.Hold) {
				t.Fatalf("round %d: answered %+v\nspec held %+v", round, a.Hold, h)
			}
			checked++
		}
	}
	if checked < 300 {
		t.Fatalf("only %d hold answers checked", checked)
	}
}

func holdOf(op any) string {
	switch op := op.(type) {
	case booking.PlaceHold:
		return op.HoldID
	case booking.ExtendHold:
		return op.HoldID
	case booking.ConfirmHold:
		return op.HoldID
	case booking.CancelHold:
		return op.HoldID
	}
	return ""
}
