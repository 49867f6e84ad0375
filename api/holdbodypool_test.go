package api

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/allot/allot/protos"
)

// TestReadPlaceHoldKeepsNoBodyBytes checks readPlaceHold's invariant: decoding a hold request
// keeps no reference to the body's bytes, so the buffer it was read into can be lent to the
// next request. Every body of holdBodies and 2,000 random hold requests (fixed seed: buckets,
// dates, user ids, contacts, escapes) are read through the pooled buffer, which is then
// overwritten; the decoded command and contact must equal a decode of a private copy, and
// an error must be the same error.
func TestReadPlaceHoldKeepsNoBodyBytes(t *testing.T) {
	s := &Server{cfg: Config{MaxBodyBytes: DefaultMaxBodyBytes}}
	rng := rand.New(rand.NewPCG(17, 11))
	bodies := append([]string{}, holdBodies...)
	for range 2000 {
		bodies = append(bodies, randomHoldBody(rng))
	}
	decoded := 0
	for _, body := range bodies {
		req := httptest.NewRequest(http.MethodPost, "/v1/resources/r/holds", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var got protos.PlaceHold
		gotContact, gotErr := s.readPlaceHold(req, &got)
		// Scribble over every pooled buffer, the one just lent included.
		for range 4 {
			b := s.holdBufs.get()
			*b = (*b)[:cap(*b)]
			for i := range *b {
				(*b)[i] = 'x'
			}
			s.holdBufs.put(b)
		}
		var want protos.PlaceHold
		wantContact, wantErr := decodePlaceHoldContactInto(bytes.Clone([]byte(body)), &want)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: error %v, want %v", body, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		decoded++
		if !proto.Equal(&got, &want) || !reflect.DeepEqual(gotContact, wantContact) {
			t.Fatalf("%q: decoded %v %+v from the lent buffer, want %v %+v", body, &got, gotContact, &want, wantContact)
		}
	}
	if decoded < 1000 {
		t.Fatalf("only %d of %d bodies decoded: the generator should make mostly valid requests", decoded, len(bodies))
	}
}

// randomHoldBody returns a hold request body, usually valid: buckets or a date range, a
// quantity, maybe a user id and a contact, with escapes now and then.
func randomHoldBody(rng *rand.Rand) string {
	str := func() string {
		const alpha = "abcdefghijklmnopqrstuvwxyz0123456789-_"
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteByte(alpha[rng.IntN(len(alpha))])
		}
		if rng.IntN(10) == 0 {
			b.WriteString(`\u00e9`)
		}
		return b.String()
	}
	var m []string
	switch rng.IntN(3) {
	case 0:
		m = append(m, `"buckets":["all"]`)
	case 1:
		var bs []string
		for range 1 + rng.IntN(4) {
			bs = append(bs, fmt.Sprintf(`"2026-%02d-%02d"`, 1+rng.IntN(12), 1+rng.IntN(28)))
		}
		m = append(m, `"buckets":[`+strings.Join(bs, ",")+`]`)
	default:
		m = append(m, `"from":"2026-03-01"`, fmt.Sprintf(`"to":"2026-03-%02d"`, 2+rng.IntN(20)))
	}
	m = append(m, fmt.Sprintf(`"quantity":%d`, 1+rng.IntN(5)))
	if rng.IntN(2) == 0 {
		m = append(m, `"user_id":"`+str()+`"`)
	}
	if rng.IntN(3) == 0 {
		m = append(m, `"contact":{"name":"`+str()+`","email":"`+str()+`@example.org","phone":"+4930`+fmt.Sprint(1000000+rng.IntN(8999999))+`"}`)
	}
	if rng.IntN(5) == 0 {
		m = append(m, `"contact_from_token":true`)
	}
	rng.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
	return "{" + strings.Join(m, ",") + "}"
}
