package activation

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/actors/payment"
)

// The payment commands of the transcripts (testdata/payment*):
//
//	cmd NAME create buckets=(a:2) price=1500 [timezone=Europe/Paris] [refunds=(48h:100,24h:50)]
//	                                                  a resource with a unit price (EUR minor units)
//	                                                  and its own cancellation policy
//	cmd NAME pay hold=h1 [user=u] [policy=(48h:100)]  the owner asks to pay (grace 5m; policy: the
//	                                                  node's default, none by default)
//	cmd NAME observed hold=h1 intent=pi_1 status=requires_capture [attempt=1] [amount=N]
//	         [received=N] [refunded=N] [risk=elevated] [failed] [event=evt_1]
//	cmd NAME confirm hold=h1 [payment-required]       a plain confirm; payment-required: the node takes payments
//	cmd NAME payment-tick hold=h1
//	cmd NAME review hold=h1 [approve]                 an operator's decision on a payment under review
//
// A hold's answer shows its payment status and the provider commands its saga still needs
// (what the shell performs after the commit).

// scenarioPayment is the payment configuration of the transcripts.
var scenarioPayment = payment.Config{Grace: 5 * time.Minute, LateWindow: 30 * time.Minute}

func pricedCreate(d *datadriven.TestData, c booking.CreateResource, price int) booking.CreateResource {
	c.Price = &booking.Money{Amount: int64(price), Currency: "EUR"}
	if a, ok := d.Arg("timezone"); ok {
		c.Timezone = val(a)
	}
	c.Refunds = tiersArg(d, "refunds")
	return c
}

// tiersArg reads a cancellation policy written as (48h:100,24h:50); nil when key is absent.
func tiersArg(d *datadriven.TestData, key string) []booking.RefundTier {
	a, ok := d.Arg(key)
	if !ok {
		return nil
	}
	var out []booking.RefundTier
	for _, v := range a.Vals {
		before, pct, _ := strings.Cut(v, ":")
		dur, err := time.ParseDuration(before)
		if err != nil {
			d.Fatalf(nil, "%s: %v", key, err)
		}
		n, _ := strconv.ParseInt(pct, 10, 64)
		out = append(out, booking.RefundTier{Before: dur, Percent: n})
	}
	return out
}

func paymentCommand(d *datadriven.TestData, op, hold, user string) (any, error) {
	arg := func(k string) string {
		if a, ok := d.Arg(k); ok {
			return val(a)
		}
		return ""
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(arg(k), 10, 64)
		return n
	}
	switch op {
	case "pay":
		return PayHold{HoldID: hold, UserID: user, Config: scenarioPayment, Policy: payment.Policy{Tiers: tiersArg(d, "policy")}}, nil
	case "payment-tick":
		return PaymentTick{HoldID: hold, Config: scenarioPayment}, nil
	case "review":
		return PaymentDecided{HoldID: hold, Approve: d.HasArg("approve"), Config: scenarioPayment}, nil
	case "observed":
		in := payment.Intent{ID: arg("intent"), HoldID: hold, ResourceID: "r", Attempt: max(int(num("attempt")), 1),
			Amount: num("amount"), Currency: "eur", Status: payment.IntentStatus(arg("status")),
			AmountReceived: num("received"), AmountRefunded: num("refunded"), Failed: d.HasArg("failed"),
			Risk: payment.RiskLevel(arg("risk"))}
		if in.Status == payment.IntentRequiresCapture {
			in.AmountCapturable = in.Amount
		}
		return PaymentObserved{HoldID: hold, Config: scenarioPayment,
			Observed: payment.Observed{EventID: arg("event"), Intent: in}}, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// paymentString renders a hold's payment: status, intent and what the saga still asks the
// provider for.
func paymentString(h booking.Hold) string {
	if h.Payment == "" {
		return ""
	}
	s, err := payment.Decode(h.Payment, h.ID, h.ResourceID)
	if err != nil {
		return " payment undecodable: " + err.Error()
	}
	out := fmt.Sprintf(" payment %s", s.Status)
	if s.Intent.ID != "" {
		out += " intent " + s.Intent.ID
	}
	if h.PaymentOpen {
		out += " (open)"
	}
	var todo []string
	for _, c := range s.Provider(scenarioPayment, t0.Add(24*time.Hour)) {
		todo = append(todo, strings.Fields(c.String())[0])
		if r, ok := c.(payment.RefundIntent); ok { // the amount a policy grants
			todo[len(todo)-1] += fmt.Sprintf("(%d)", r.Amount)
		}
	}
	if len(todo) > 0 {
		out += " needs " + strings.Join(todo, ",")
	}
	return out
}

func paymentEventString(e *events.Event) string {
	if e.Payment == nil {
		return ""
	}
	s := fmt.Sprintf(", payment %s (was %s)", e.Payment.Status, e.Payment.Previous)
	if e.Payment.Amount > 0 {
		s += fmt.Sprintf(", refunded %d of %d in total", e.Payment.Amount, e.Payment.Refunded)
	}
	return s
}

// withPendingPayment gives a hold loaded by "lookup ... paying" a payment under way: attempt
// 1, intent pi_1 of 900 EUR awaiting its payment method, the hold seen as it is.
func withPendingPayment(h booking.Hold) booking.Hold {
	s := &payment.Saga{HoldID: h.ID, ResourceID: h.ResourceID, Amount: booking.Money{Amount: 900, Currency: "EUR"},
		Attempt: 1, Hold: h.Status, Status: payment.StatusPending, Extended: true, HoldEndedAt: t0,
		Intent: payment.Intent{ID: "pi_1", HoldID: h.ID, ResourceID: h.ResourceID, Attempt: 1, Amount: 900, Currency: "eur",
			Status: payment.IntentRequiresPaymentMethod}}
	h.Payment, h.PaymentOpen = payment.Encode(s), true
	return h
}
