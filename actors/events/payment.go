package events

// PaymentData describes a hold's payment in hold.payment_changed and hold.refunded: its
// status after the change and before, and, for a refund, the amount that went back now and
// in total (minor units). No card data exists in Allot to put here.
type PaymentData struct {
	Status   string `json:"status"`
	Previous string `json:"previous_status,omitempty"`
	Refunded int64  `json:"refunded,omitempty"`      // in total
	Amount   int64  `json:"refund_amount,omitempty"` // hold.refunded: this refund
	Currency string `json:"currency,omitempty"`
}
