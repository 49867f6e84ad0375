package wire

// Contact is a guest's contact on a hold: personal data (docs/SECURITY.md, Personal data). In
// a request (PlaceHold.Contact) at least one field is set; the edge checks each (a name of
// printable characters, an e-mail address, a phone number of 6 to 15 digits) and seals it
// before it leaves the edge. In an answer (Hold.Contact) it is shown whole only to the hold's
// user and to callers whose token proves a second factor and has the admin role or the
// pii:read scope; to everyone else masked (j***@example.com, +49******12, J*** D***), with
// Hold.ContactMasked set.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}
