package webhooks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// DeliveryID is the id of the delivery of event eventID to endpoint endpointID: derived, so
// that recording a redelivered event finds the delivery it recorded before.
func DeliveryID(endpointID, eventID string) string {
	h := sha256.New()
	h.Write([]byte(endpointID))
	h.Write([]byte{0})
	h.Write([]byte(eventID))
	return "dlv_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// newEndpointID returns a fresh random endpoint id.
func newEndpointID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "we_" + hex.EncodeToString(b)
}
