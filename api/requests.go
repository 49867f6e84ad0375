package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// Request decoders: one per route that takes input, each turning the body (or query, or
// header) into a command op or a coded error. See decode.go for the status split. The value
// rules are the booking model's (booking.Validate*), called here so that bad input never
// reaches an actor; the edge adds only what is about the wire: required members, JSON shape.

type moneyBody struct {
	Amount   *int64  `json:"amount"`
	Currency *string `json:"currency"`
}

type createResourceBody struct {
	ID       *string          `json:"id"`
	Tags     []string         `json:"tags"`
	Location *string          `json:"location"`
	Name     *string          `json:"name"`
	Buckets  map[string]int64 `json:"buckets"`
	Calendar *calendarBody    `json:"calendar"`
	Timezone *string          `json:"timezone"`
	HoldTTL  *string          `json:"hold_ttl"`
	Price    *moneyBody       `json:"price"`
	rulesBody
}

type updateResourceBody struct {
	Buckets  map[string]int64 `json:"buckets"`
	Tags     *[]string        `json:"tags"`
	Location *string          `json:"location"`
	Name     *string          `json:"name"`
	HoldTTL  *string          `json:"hold_ttl"`
	rulesBody
}

type placeHoldBody struct {
	Buckets  []string     `json:"buckets"`
	From     *string      `json:"from"`
	To       *string      `json:"to"`
	Quantity *int64       `json:"quantity"`
	UserID   *string      `json:"user_id"`
	Contact  *contactBody `json:"contact"`
	// ContactFromToken fills the contact's e-mail and phone from the token's claims.
	ContactFromToken *bool `json:"contact_from_token"`
}

// decodeCreateResource decodes and validates the body of POST /v1/resources into the
// resource id and the command op.
func decodeCreateResource(body []byte) (string, *protos.CreateResource, error) {
	var b createResourceBody
	err := decodeStrict(body, &b, func(parent string, depth int, name string) bool {
		switch {
		case depth == 0:
			return oneOf(name, "id", "name", "buckets", "calendar", "timezone", "hold_ttl", "price", "tags", "location") || ruleMember(name)
		case depth == 1 && parent == "price":
			return oneOf(name, "amount", "currency")
		case depth == 1 && parent == "calendar":
			return oneOf(name, "from", "to", "every", "capacity")
		case depth == 1 && parent == "allowance":
			return oneOf(name, "units", "percent")
		case depth == 2 && parent == "[]":
			return refundTierMember(parent, depth, name)
		}
		return true // bucket keys are data; other nesting fails on its JSON type
	})
	if err != nil {
		return "", nil, err
	}
	if b.ID == nil {
		return "", nil, invalid("id is required")
	}
	if err := booking.ValidateID("id", *b.ID); err != nil {
		return "", nil, err
	}
	if b.Name == nil {
		return "", nil, invalid("name is required")
	}
	if err := booking.ValidateName(*b.Name); err != nil {
		return "", nil, err
	}
	op := &protos.CreateResource{Name: *b.Name}
	if err := booking.ValidateTags(b.Tags); err != nil {
		return "", nil, err
	}
	op.Tags = b.Tags
	if b.Location != nil {
		if err := booking.ValidateLocation(*b.Location); err != nil {
			return "", nil, err
		}
		op.Location = *b.Location
	}
	if b.Timezone != nil {
		if err := booking.ValidateTimezone(*b.Timezone); err != nil {
			return "", nil, err
		}
		op.Timezone = *b.Timezone
	}
	switch {
	case b.Buckets != nil && b.Calendar != nil:
		return "", nil, invalid("give buckets or a calendar, not both")
	case b.Calendar != nil:
		cal, err := decodeCalendar(b.Calendar, op.Timezone)
		if err != nil {
			return "", nil, err
		}
		op.Calendar = cal
	case b.Buckets == nil:
		return "", nil, invalid("buckets (or a calendar) is required")
	case len(b.Buckets) == 0:
		return "", nil, invalid("buckets must have at least one bucket")
	default:
		if err := booking.ValidateCapacities(b.Buckets); err != nil {
			return "", nil, err
		}
		op.Buckets = b.Buckets
	}
	if b.HoldTTL != nil {
		ttl, err := booking.ParseHoldTTL(*b.HoldTTL)
		if err != nil {
			return "", nil, err
		}
		op.HoldTtlMs = ttl.Milliseconds()
	}
	if b.Price != nil {
		switch {
		case b.Price.Amount == nil:
			return "", nil, invalid("price.amount is required")
		case b.Price.Currency == nil:
			return "", nil, invalid("price.currency is required")
		}
		if err := booking.ValidatePrice(booking.Money{Amount: *b.Price.Amount, Currency: *b.Price.Currency}); err != nil {
			return "", nil, err
		}
		op.Price = &protos.Money{Amount: *b.Price.Amount, Currency: *b.Price.Currency}
	}
	r, err := b.rules()
	if err != nil {
		return "", nil, err
	}
	op.MaxExtensions, op.Allowance, op.WaitlistOfferTtlMs = r.maxExtensions, r.allowance, r.offerTTLms()
	op.CancellationPolicy = r.refunds
	if r.maxPerUser != nil {
		op.MaxPerUser = *r.maxPerUser
	}
	return *b.ID, op, nil
}

// decodeUpdateResource decodes and validates the body of PATCH /v1/resources/{rid}.
func decodeUpdateResource(body []byte) (*protos.UpdateResource, error) {
	var b updateResourceBody
	err := decodeStrict(body, &b, func(parent string, depth int, name string) bool {
		switch {
		case depth == 0:
			return oneOf(name, "buckets", "name", "hold_ttl", "tags", "location") || ruleMember(name)
		case depth == 1 && parent == "allowance":
			return oneOf(name, "units", "percent")
		case depth == 2 && parent == "[]":
			return refundTierMember(parent, depth, name)
		}
		return depth > 0
	})
	if err != nil {
		return nil, err
	}
	r, err := b.rules()
	if err != nil {
		return nil, err
	}
	if len(b.Buckets) == 0 && b.Name == nil && b.HoldTTL == nil && b.Tags == nil && b.Location == nil && r.empty() {
		return nil, invalid("nothing to update: give buckets, name, hold_ttl, tags, location or a rule (max_extensions, allowance, max_per_user, waitlist_offer_ttl, cancellation_policy)")
	}
	op := &protos.UpdateResource{MaxExtensions: r.maxExtensions, Allowance: r.allowance, MaxPerUser: r.maxPerUser,
		CancellationPolicy: r.refunds}
	if b.Tags != nil {
		if err := booking.ValidateTags(*b.Tags); err != nil {
			return nil, err
		}
		op.Tags = &protos.Tags{Values: *b.Tags}
	}
	if b.Location != nil {
		if err := booking.ValidateLocation(*b.Location); err != nil {
			return nil, err
		}
		op.Location = b.Location
	}
	if r.offerTTL != nil {
		ms := r.offerTTL.Milliseconds()
		op.WaitlistOfferTtlMs = &ms
	}
	if len(b.Buckets) > 0 {
		if err := booking.ValidateCapacities(b.Buckets); err != nil {
			return nil, err
		}
		op.Buckets = b.Buckets
	}
	if b.Name != nil {
		if err := booking.ValidateName(*b.Name); err != nil {
			return nil, err
		}
		op.Name = b.Name
	}
	if b.HoldTTL != nil {
		ttl, err := booking.ParseHoldTTL(*b.HoldTTL)
		if err != nil {
			return nil, err
		}
		ms := ttl.Milliseconds()
		op.HoldTtlMs = &ms
	}
	return op, nil
}

// decodePlaceHold decodes and validates the body of POST /v1/resources/{rid}/holds. The
// Idempotency-Key comes from the header (see idempotencyKey).
func decodePlaceHold(body []byte) (*protos.PlaceHold, error) {
	op, _, err := decodePlaceHoldContact(body)
	return op, err
}

// placeHoldMember is decodeStrict's member rule of a hold request.
func placeHoldMember(parent string, depth int, name string) bool {
	if depth == 1 && parent == "contact" {
		return contactMember(name)
	}
	return depth > 0 || oneOf(name, "buckets", "from", "to", "quantity", "user_id", "contact", "contact_from_token")
}

// decodePlaceHoldContact decodes a hold request with its contact (contact.go), which the
// caller seals into the op once it knows the hold's user.
func decodePlaceHoldContact(body []byte) (*protos.PlaceHold, holdContact, error) {
	op := new(protos.PlaceHold)
	hc, err := decodePlaceHoldContactInto(body, op)
	if err != nil {
		return nil, holdContact{}, err
	}
	return op, hc, nil
}

// decodePlaceHoldContactInto is decodePlaceHoldContact into op, a new message (placeHold
// allocates it with its command).
func decodePlaceHoldContactInto(body []byte, op *protos.PlaceHold) (holdContact, error) {
	b, ok := fastPlaceHoldBody(body) // holdbody.go: the common shape, decoded as below
	if !ok {
		b = placeHoldBody{}
		if err := decodeStrict(body, &b, placeHoldMember); err != nil {
			return holdContact{}, err
		}
	}
	if err := placeHoldOp(&b, op); err != nil {
		return holdContact{}, err
	}
	var hc holdContact
	var err error
	hc.fromToken = b.ContactFromToken != nil && *b.ContactFromToken
	if hc.fromToken && b.Contact != nil && b.Contact.Email == nil && b.Contact.Phone == nil && b.Contact.Name == nil {
		b.Contact = nil // {} with contact_from_token: all from the token
	}
	if b.Contact != nil || !hc.fromToken {
		if hc.fields, err = decodeContact(b.Contact); err != nil {
			return holdContact{}, err
		}
	}
	return hc, nil
}

// placeHoldOp sets op's fields from b (op is new: a protobuf message is filled in place,
// never copied).
func placeHoldOp(b *placeHoldBody, op *protos.PlaceHold) error {
	buckets, rng, err := decodeUnits(b.Buckets, b.From, b.To)
	if err != nil {
		return err
	}
	if b.Quantity == nil {
		return invalid("quantity is required")
	}
	if err := booking.ValidateQuantity(*b.Quantity); err != nil {
		return err
	}
	// user_id is optional: absent means the token's user (actingUser decides).
	uid := ""
	if b.UserID != nil {
		if err := booking.ValidateUserID("user_id", *b.UserID); err != nil {
			return err
		}
		uid = *b.UserID
	}
	op.Buckets, op.Range, op.Quantity, op.UserId = buckets, rng, *b.Quantity, uid
	return nil
}

// idempotencyKey returns the Idempotency-Key header: "" when absent, else the one value
// booking.ValidateIdempotencyKey accepts.
func idempotencyKey(h http.Header) (string, error) {
	vals, ok := h[http.CanonicalHeaderKey(IdempotencyKeyHeader)]
	if !ok {
		return "", nil
	}
	if len(vals) != 1 {
		return "", invalid("Idempotency-Key must be given once")
	}
	if err := booking.ValidateIdempotencyKey(vals[0]); err != nil {
		return "", err
	}
	return vals[0], nil
}

// holdQuery is the query of GET .../holds.
type holdQuery struct {
	userID string
	status booking.Status
	limit  int
}

// decodeHoldQuery parses ?user_id=&status=&limit= (user_id only when withUser). Empty values
// count as absent; unknown parameters are ignored; a parameter given twice is malformed.
func decodeHoldQuery(rawQuery string, withUser bool) (holdQuery, error) {
	var q holdQuery
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, malformed("the query string cannot be parsed")
	}
	get := func(name string) (string, error) {
		v := vals[name]
		if len(v) > 1 {
			return "", malformed("query parameter %s is given more than once", name)
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	if withUser {
		u, err := get("user_id")
		if err != nil {
			return q, err
		}
		if u != "" {
			if err := booking.ValidateUserID("user_id", u); err != nil {
				return q, err
			}
		}
		q.userID = u
	}
	st, err := get("status")
	if err != nil {
		return q, err
	}
	if st != "" && !booking.Status(st).Valid() {
		return q, invalid("status must be held, confirmed, cancelled or expired")
	}
	q.status = booking.Status(st)
	lim, err := get("limit")
	if err != nil {
		return q, err
	}
	if lim != "" {
		n, err := strconv.Atoi(lim)
		if err != nil {
			return q, malformed("limit must be an integer")
		}
		if n < 1 || n > maxListLimit {
			return q, invalid("limit must be between 1 and %d", maxListLimit)
		}
		q.limit = n
	}
	return q, nil
}

func oneOf(s string, names ...string) bool {
	for _, n := range names {
		if s == n {
			return true
		}
	}
	return false
}
