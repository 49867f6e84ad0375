package api

import "github.com/allot/allot/actors/payment"

// paymentStatus is what a hold's answer shows of its payment record: the status only (the
// record's intent ids, amounts and event ids are the payment layer's; the client secret is
// never in it). "" for a hold without payment, and for a record that does not decode (logged
// by the payment layer, which owns it).
func paymentStatus(stored string) string {
	if stored == "" {
		return ""
	}
	s, err := payment.Decode(stored, "", "")
	if err != nil || s.Status == payment.StatusNone {
		return ""
	}
	return string(s.Status)
}
