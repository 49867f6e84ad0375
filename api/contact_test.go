package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence/pii"
)

// testRing is a fixed data key ring for the edge tests.
func testRing(tb testing.TB) *pii.Keyring {
	tb.Helper()
	r, err := pii.ParseKeyring([]byte("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, pii.KeySize))))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func withContacts(ring *pii.Keyring) func(*Config) {
	return func(c *Config) { c.Contacts = ring }
}

var (
	janeContact = wire.Contact{Name: "Jane van Doe", Email: "jane.doe@example.com", Phone: "+49 151 2345 6712"}
	janeMasked  = wire.Contact{Name: "J*** v*** D***", Email: "j***@example.com", Phone: "+49******12"}
	// asPIIReader is an operator whose token has the pii:read scope (a subject of its own:
	// testTokens caches tokens by subject, roles and MFA).
	asPIIReader = auth.TokenSpec{Subject: "op-pii", Roles: []auth.Role{auth.RoleOperator}, MFA: true, Scopes: []string{auth.ScopePIIRead}}
	// asCustomerPII has the scope but no second factor and no role: it reads its own only.
	asCustomerPII = auth.TokenSpec{Subject: "u-3", Scopes: []string{auth.ScopePIIRead}}
)

const janeHold = `{"buckets":["2026-12-24"],"quantity":1,"contact":{"name":" Jane van Doe ","email":"jane.doe@example.com","phone":"+49 151 2345 6712"}}`

// TestHoldContactSealedAndShownByCaller: a hold's contact is sealed before the command leaves
// the edge (the store holds a ciphertext that opens to it, bound to resource and user), and
// every answer shows it whole to the hold's user, admins and pii:read operators, and masked to
// other operators.
func TestHoldContactSealedAndShownByCaller(t *testing.T) {
	ring := testRing(t)
	var debugLog syncBuffer
	e := MustServer(t, withContacts(ring), func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&debugLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.mustCreate()
	h := e.mustHold(janeHold, e.as("u-1")...)
	if h.Contact == nil || *h.Contact != janeContact || h.ContactMasked {
		t.Fatalf("the placer's answer: %+v masked=%v", h.Contact, h.ContactMasked)
	}

	stored, err := e.disp.store.GetHold(context.Background(), "hotel-1", h.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"jane", "Jane", "example.com", "2345"} {
		if bytes.Contains(stored.Contact, []byte(plain)) {
			t.Fatalf("the stored contact contains %q", plain)
		}
	}
	if c, err := ring.OpenContact(stored.Contact, "hotel-1", "u-1"); err != nil || c.Email != janeContact.Email {
		t.Fatalf("the stored contact opens to %v, %v", c, err)
	}

	path := "/v1/resources/hotel-1/holds/" + h.ID
	for _, tc := range []struct {
		name   string
		caller auth.TokenSpec
		whole  bool
	}{
		{"owner", asCustomer, true},
		{"admin", asAdmin, true},
		{"pii reader", asPIIReader, true},
		{"operator", asOperator, false},
	} {
		var got wire.Hold
		e.ok(e.do("GET", path, "", e.bearer(tc.caller)...), http.StatusOK, &got)
		want := janeMasked
		if tc.whole {
			want = janeContact
		}
		if got.Contact == nil || *got.Contact != want || got.ContactMasked == tc.whole {
			t.Errorf("%s: contact %+v masked=%v", tc.name, got.Contact, got.ContactMasked)
		}
	}
	// Another customer does not see the hold at all, pii:read or not.
	mustProblem(t, e.do("GET", path, "", e.bearer(asCustomerPII)...), http.StatusNotFound, "not-found")

	// Listings: the operator's is masked, the owner's whole; a confirm answers like a read.
	var list wire.HoldList
	e.ok(e.do("GET", "/v1/resources/hotel-1/holds", "", e.bearer(asOperator)...), http.StatusOK, &list)
	if len(list.Holds) != 1 || list.Holds[0].Contact == nil || *list.Holds[0].Contact != janeMasked || !list.Holds[0].ContactMasked {
		t.Fatalf("operator listing: %+v", list.Holds)
	}
	list = wire.HoldList{} // decoding into list again would keep members an answer leaves out
	e.ok(e.do("GET", "/v1/me/holds", "", e.as("u-1")...), http.StatusOK, &list)
	if len(list.Holds) != 1 || list.Holds[0].Contact == nil || *list.Holds[0].Contact != janeContact || list.Holds[0].ContactMasked {
		t.Fatalf("own listing: %+v", list.Holds)
	}
	var confirmed wire.Hold
	e.ok(e.do("POST", path+"/confirm", "", e.bearer(asOperator)...), http.StatusOK, &confirmed)
	if confirmed.Contact == nil || *confirmed.Contact != janeMasked {
		t.Fatalf("confirm answer: %+v", confirmed.Contact)
	}

	// An operator placing a hold for a guest sees what they typed masked, like any other read.
	var forGuest wire.Hold
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-25"],"quantity":1,"user_id":"u-9","contact":{"email":"guest@example.org"}}`,
		e.bearer(asOperator)...), http.StatusCreated, &forGuest)
	if forGuest.Contact == nil || forGuest.Contact.Email != "g***@example.org" || forGuest.Contact.Name != "" || !forGuest.ContactMasked {
		t.Fatalf("front desk answer: %+v", forGuest.Contact)
	}

	// A hold without a contact answers none.
	plain := e.mustHold(`{"buckets":["2026-12-26"],"quantity":1}`, e.as("u-1")...)
	if plain.Contact != nil || plain.ContactMasked {
		t.Fatalf("hold without contact: %+v", plain)
	}

	// Every request above was logged at debug level; none of it names the guest.
	if !strings.Contains(debugLog.String(), `"level":"DEBUG"`) {
		t.Fatalf("nothing logged at debug level:\n%s", debugLog.String())
	}
	for _, plain := range []string{"Jane", "jane", "example.com", "example.org", "23456712", "2345 6712", "+49"} {
		if strings.Contains(debugLog.String(), plain) {
			t.Fatalf("the debug log holds %q:\n%s", plain, debugLog.String())
		}
	}
}

// TestHoldContactRefused: a bad contact is a 4xx problem that changes nothing and does not
// quote what it refuses; a node without a data key refuses any contact.
func TestHoldContactRefused(t *testing.T) {
	e := MustServer(t, withContacts(testRing(t)))
	e.mustCreate()
	before := e.disp.snapshot(t)
	for _, tc := range []struct {
		name, contact string
		status        int
		slug          string
	}{
		{"empty object", `{}`, http.StatusUnprocessableEntity, "invalid"},
		{"unknown member", `{"email":"secret1@example.com","fax":"1"}`, http.StatusBadRequest, "malformed"},
		{"member case", `{"Email":"secret1@example.com"}`, http.StatusBadRequest, "malformed"},
		{"not an object", `"secret1@example.com"`, http.StatusBadRequest, "malformed"},
		{"duplicate member", `{"email":"a@example.com","email":"secret1@example.com"}`, http.StatusBadRequest, "malformed"},
		{"email without at", `{"email":"secret1example.com"}`, http.StatusUnprocessableEntity, "invalid"},
		{"email with display name", `{"email":"Secret One <secret1@example.com>"}`, http.StatusUnprocessableEntity, "invalid"},
		{"email without dot", `{"email":"secret1@localhost"}`, http.StatusUnprocessableEntity, "invalid"},
		{"email too long", `{"email":"secret1@` + strings.Repeat("a", 250) + `.com"}`, http.StatusUnprocessableEntity, "invalid"},
		{"phone letters", `{"phone":"+49 secret1"}`, http.StatusUnprocessableEntity, "invalid"},
		{"phone short", `{"phone":"12345"}`, http.StatusUnprocessableEntity, "invalid"},
		{"phone long", `{"phone":"1234567890123456"}`, http.StatusUnprocessableEntity, "invalid"},
		{"phone plus inside", `{"phone":"49+1512345"}`, http.StatusUnprocessableEntity, "invalid"},
		{"name bidi override", `{"name":"secret1 \u202e"}`, http.StatusUnprocessableEntity, "invalid"},
		{"name NUL", `{"name":"secret1\u0000"}`, http.StatusUnprocessableEntity, "invalid"},
		{"name lone surrogate", `{"name":"secret1\ud800"}`, http.StatusBadRequest, "malformed"},
		{"name too long", `{"name":"secret1` + strings.Repeat("x", 200) + `"}`, http.StatusUnprocessableEntity, "invalid"},
		{"name blank", `{"name":"   "}`, http.StatusUnprocessableEntity, "invalid"},
	} {
		body := `{"buckets":["2026-12-24"],"quantity":1,"contact":` + tc.contact + `}`
		rec := e.do("POST", "/v1/resources/hotel-1/holds", body, e.as("u-1")...)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		mustProblem(t, rec, tc.status, tc.slug)
		if strings.Contains(rec.Body.String(), "secret1") {
			t.Errorf("%s: the problem quotes the contact: %s", tc.name, rec.Body)
		}
	}
	if e.disp.snapshot(t) != before {
		t.Fatal("a refused contact changed state")
	}
	if strings.Contains(e.logs.String(), "secret1") {
		t.Fatalf("the log holds a refused contact:\n%s", e.logs)
	}

	off := MustServer(t)
	off.mustCreate()
	before = off.disp.snapshot(t)
	mustProblem(t, off.do("POST", "/v1/resources/hotel-1/holds", janeHold, off.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	if off.disp.snapshot(t) != before {
		t.Fatal("a node without a data key stored a hold with a contact")
	}
}

// TestHoldContactThatDoesNotOpen: a contact sealed under a key the edge's ring lacks leaves the
// answer without a contact (and the rest of the hold right), logged without content.
func TestHoldContactThatDoesNotOpen(t *testing.T) {
	e := MustServer(t, withContacts(testRing(t)))
	e.mustCreate()
	h := e.mustHold(janeHold, e.as("u-1")...)
	other, err := pii.NewKeyring([]string{"k9"}, [][]byte{bytes.Repeat([]byte{9}, pii.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.cfg.Contacts = other // as a node whose ring lost k1 would be
	var got wire.Hold
	e.ok(e.do("GET", "/v1/resources/hotel-1/holds/"+h.ID, "", e.as("u-1")...), http.StatusOK, &got)
	if got.Contact != nil || got.ID != h.ID || got.Status != "held" {
		t.Fatalf("answer %+v", got)
	}
	if !strings.Contains(e.logs.String(), "does not open") || strings.Contains(e.logs.String(), "jane") {
		t.Fatalf("log:\n%s", e.logs)
	}
}

// TestWirePlaceHoldContactDecodes: what a client encodes with wire.PlaceHold.Contact is what the
// edge accepts.
func TestWirePlaceHoldContactDecodes(t *testing.T) {
	c := janeContact
	body, _ := json.Marshal(wire.PlaceHold{Buckets: []string{"a"}, Quantity: 1, Contact: &c})
	_, got, err := decodePlaceHoldContact(body)
	if err != nil || got.fields != (pii.Contact{Name: c.Name, Email: c.Email, Phone: c.Phone}) || got.fromToken {
		t.Fatalf("%s: %+v, %v", body, got, err)
	}
}

// FuzzDecodeContact: a hold body with any contact is refused with a client error or accepted
// with fields that keep the edge's rules, and an accepted contact seals and opens unchanged.
// go test -run '^$' -fuzz FuzzDecodeContact -fuzztime 30s ./api/
func FuzzDecodeContact(f *testing.F) {
	for _, s := range []string{
		`{"name":"Jane Doe","email":"jane@example.com","phone":"+49 151 2345 6712"}`,
		`{"email":"a@b.co"}`, `{"phone":"(030) 123-456"}`, `{"name":"\u202eevil"}`, `{}`, `null`,
		`{"email":"x@y"}`, `{"name":"` + strings.Repeat("é", 201) + `"}`,
	} {
		f.Add([]byte(s))
	}
	ring := testRing(f)
	f.Fuzz(func(t *testing.T, contact []byte) {
		body := append(append([]byte(`{"buckets":["a"],"quantity":1,"contact":`), contact...), '}')
		_, hc, err := decodePlaceHoldContact(body)
		if err != nil {
			mustClientError(t, err)
			return
		}
		c := hc.fields
		if c.IsZero() {
			return // "contact": null
		}
		for _, check := range []struct {
			v  string
			fn func(string) error
		}{{c.Name, checkContactName}, {c.Email, checkContactEmail}, {c.Phone, checkContactPhone}} {
			if check.v != "" {
				if err := check.fn(check.v); err != nil {
					t.Fatalf("accepted %q: %v", check.v, err)
				}
			}
		}
		sealed, err := ring.SealContact(c, "r", "u")
		if err != nil || len(sealed) > booking.MaxSealedContactLen {
			t.Fatalf("seal: %d bytes, %v", len(sealed), err)
		}
		if got, err := ring.OpenContact(sealed, "r", "u"); err != nil || got != c {
			t.Fatalf("open: %+v, %v", got, err)
		}
	})
}

// TestHoldContactFromToken: contact_from_token fills e-mail and phone from the caller's own
// claims (the body's fields win), only for the caller's own hold, and a token without the
// claims is refused.
func TestHoldContactFromToken(t *testing.T) {
	e := MustServer(t, withContacts(testRing(t)))
	e.mustCreate()
	withClaims := auth.TokenSpec{Subject: "u-7", Email: "seven@example.net", Phone: "+44 20 7946 0018"}
	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"contact_from_token":true,"contact":{"name":"Sev En"}}`,
		e.bearer(withClaims)...), http.StatusCreated, &h)
	if h.Contact == nil || *h.Contact != (wire.Contact{Name: "Sev En", Email: "seven@example.net", Phone: "+44 20 7946 0018"}) {
		t.Fatalf("contact %+v", h.Contact)
	}
	h = wire.Hold{} // decoding into h again would keep the members an answer leaves out
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"contact_from_token":true,"contact":{"email":"other@example.net"}}`,
		e.bearer(withClaims)...), http.StatusCreated, &h)
	if h.Contact == nil || h.Contact.Email != "other@example.net" || h.Contact.Phone != "+44 20 7946 0018" {
		t.Fatalf("body over claims: %+v", h.Contact)
	}
	h = wire.Hold{}
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"contact_from_token":true}`,
		e.bearer(withClaims)...), http.StatusCreated, &h)
	if h.Contact == nil || h.Contact.Email != "seven@example.net" || h.Contact.Name != "" {
		t.Fatalf("all from the token: %+v", h.Contact)
	}

	before := e.disp.snapshot(t)
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"contact_from_token":true}`,
		e.as("u-8")...), http.StatusUnprocessableEntity, "invalid") // no claims
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-9","contact_from_token":true}`,
		e.bearer(asOperator)...), http.StatusUnprocessableEntity, "invalid") // not the caller's hold
	if e.disp.snapshot(t) != before {
		t.Fatal("a refused contact_from_token changed state")
	}
}
