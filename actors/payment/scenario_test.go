package payment

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/allot/allot/actors/booking"
)

// TestScenarios runs the transcripts in testdata: each tells one hold's payment as inputs and
// the saga's answers (commands, then the state). Directives:
//
//	request amount=N currency=C [hold=held] [policy=48h:100,24h:50] [start=+72h]
//	observe [event=ID kind=K reason=R] [id=pi_1] [attempt=1] status=S [amount=N] [capturable=N]
//	        [received=N] [refunded=N] [risk=R] [failed]
//	hold confirmed|expired|cancelled|held [operator]
//	retake-refused | decide approve|reject | tick | advance DURATION
//
// Rewrite after a deliberate change: go test ./actors/payment -run Scenarios -rewrite.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &Saga{HoldID: "h1", ResourceID: "r1"}
		now := scenarioT0
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			in, err := scenarioInput(s, now, d)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			if in == nil { // advance
				dur, _ := time.ParseDuration(d.CmdArgs[0].Key)
				now = now.Add(dur)
				return fmt.Sprintf("now +%s\n", now.Sub(scenarioT0))
			}
			cmds, err := s.Step(Config{}, now, in)
			var b strings.Builder
			if err != nil {
				fmt.Fprintf(&b, "error: %v\n", err)
			}
			for _, c := range cmds {
				fmt.Fprintln(&b, c)
			}
			if len(cmds) == 0 && err == nil {
				b.WriteString("(nothing)\n")
			}
			fmt.Fprintf(&b, "state: %s; hold %s; intent %s %s", s.Status, s.Hold, orDash(s.Intent.ID), orDash(string(s.Intent.Status)))
			if s.Review != ReviewNone {
				fmt.Fprintf(&b, "; review %s", s.Review)
			}
			if s.RefundTarget > 0 {
				fmt.Fprintf(&b, "; refund to %d, retained %d", s.RefundTarget, s.Retained)
			}
			return b.String() + "\n"
		})
	})
}

var scenarioT0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func scenarioInput(s *Saga, now time.Time, d *datadriven.TestData) (Input, error) {
	arg := func(key, def string) string {
		for _, a := range d.CmdArgs {
			if a.Key == key {
				if len(a.Vals) == 0 {
					return "true"
				}
				return strings.Join(a.Vals, ",")
			}
		}
		return def
	}
	num := func(key string, def int64) int64 {
		n, err := strconv.ParseInt(arg(key, strconv.FormatInt(def, 10)), 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s: %s: %v", d.Pos, key, err))
		}
		return n
	}
	switch d.Cmd {
	case "request":
		r := Requested{
			Amount: booking.Money{Amount: num("amount", 5000), Currency: arg("currency", "EUR")},
			Hold:   booking.Status(arg("hold", "held")),
		}
		if p := arg("policy", ""); p != "" {
			for _, tier := range strings.Split(p, ",") {
				before, pct, _ := strings.Cut(tier, ":")
				dur, err := time.ParseDuration(before)
				if err != nil {
					return nil, err
				}
				n, _ := strconv.ParseInt(pct, 10, 64)
				r.Policy.Tiers = append(r.Policy.Tiers, Tier{Before: dur, Percent: n})
			}
		}
		if st := arg("start", ""); st != "" {
			dur, err := time.ParseDuration(strings.TrimPrefix(st, "+"))
			if err != nil {
				return nil, err
			}
			r.ServiceStart = now.Add(dur)
		}
		return r, nil
	case "observe":
		in := Intent{
			ID: arg("id", "pi_1"), HoldID: s.HoldID, ResourceID: s.ResourceID, Attempt: int(num("attempt", int64(s.Attempt))),
			Amount: num("amount", s.Amount.Amount), Currency: strings.ToLower(s.Amount.Currency),
			Status:           IntentStatus(arg("status", string(IntentRequiresPaymentMethod))),
			AmountCapturable: num("capturable", 0), AmountReceived: num("received", 0), AmountRefunded: num("refunded", 0),
			Risk: RiskLevel(arg("risk", "")), Failed: arg("failed", "") != "",
		}
		return Observed{EventID: arg("event", ""), Kind: EventKind(arg("kind", "")), ReviewReason: arg("reason", ""), Intent: in}, nil
	case "hold":
		return HoldChanged{Status: booking.Status(d.CmdArgs[0].Key), ByOperator: arg("operator", "") != ""}, nil
	case "retake-refused":
		return RetakeRefused{}, nil
	case "decide":
		return Decided{Approve: d.CmdArgs[0].Key == "approve"}, nil
	case "tick":
		return Tick{}, nil
	case "advance":
		return nil, nil
	}
	return nil, fmt.Errorf("unknown directive %q", d.Cmd)
}
