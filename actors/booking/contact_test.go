package booking

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestHoldKeepsSealedContact: the model keeps a placed hold's sealed contact as it came, through
// confirmation and a restore, and refuses one over the bound without changing anything.
func TestHoldKeepsSealedContact(t *testing.T) {
	s := MustCreate(t, map[string]int64{"d1": 2}, time.Minute)
	blob := SealedContact("\x01\x02k1 opaque ciphertext")
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h1", Buckets: []string{"d1"}, Quantity: 1, UserID: "u1", Contact: blob}, t0)
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, d.Events)
	MustTransition(t, s, "h1", true, t0.Add(time.Second))
	h, _ := s.Hold("h1")
	if !bytes.Equal(h.Contact, blob) {
		t.Fatalf("contact after confirm = %q", h.Contact)
	}
	r, _ := s.Resource()
	restored := Restore(r, s.Buckets(), []Hold{h}, nil)
	if h, _ := restored.Clone().Hold("h1"); !bytes.Equal(h.Contact, blob) {
		t.Fatalf("contact after restore = %q", h.Contact)
	}

	big := SealedContact(bytes.Repeat([]byte{1}, MaxSealedContactLen+1))
	_, err = s.DecidePlaceHold(PlaceHold{HoldID: "h2", Buckets: []string{"d1"}, Quantity: 1, UserID: "u1", Contact: big}, t0)
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeInvalid {
		t.Fatalf("oversized contact: %v, want invalid", err)
	}
	if _, ok := s.Hold("h2"); ok {
		t.Fatal("the refused hold exists")
	}
	if got := fmt.Sprint(blob, SealedContact(nil)); got != "sealed none" {
		t.Fatalf("printed as %q", got)
	}
}
