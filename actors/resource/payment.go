package resource

import (
	"encoding/json"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/protos"
)

// decodePayment turns a PaymentOp into the activation's payment command. The payment layer
// (api/payments) sends these; the JSON parts are actors/payment's own types.
func decodePayment(p *protos.PaymentOp) (any, error) {
	if !booking.ValidID(p.GetHoldId()) {
		return nil, booking.Errorf(booking.CodeMalformed, "payment: invalid hold id")
	}
	var cfg payment.Config
	if err := unmarshalOptional(p.GetConfig(), &cfg); err != nil {
		return nil, err
	}
	switch p.GetKind() {
	case "pay":
		var pol payment.Policy
		if err := unmarshalOptional(p.GetPolicy(), &pol); err != nil {
			return nil, err
		}
		return activation.PayHold{HoldID: p.GetHoldId(), UserID: p.GetUserId(), Config: cfg, Policy: pol}, nil
	case "observed":
		var o payment.Observed
		if err := unmarshalOptional(p.GetObserved(), &o); err != nil {
			return nil, err
		}
		return activation.PaymentObserved{HoldID: p.GetHoldId(), Observed: o, Config: cfg}, nil
	case "tick":
		return activation.PaymentTick{HoldID: p.GetHoldId(), Config: cfg}, nil
	case "review":
		return activation.PaymentDecided{HoldID: p.GetHoldId(), Approve: p.GetApprove(), Config: cfg}, nil
	}
	return nil, booking.Errorf(booking.CodeMalformed, "payment: unknown kind %q", p.GetKind())
}

func unmarshalOptional(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return booking.Errorf(booking.CodeMalformed, "payment: %v", err)
	}
	return nil
}
