package api

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/allot/allot/api/wire"
)

// TestCancellationPolicy: a resource's refund tiers are set at creation, shown with the
// resource, replaced and removed by an update; a bad policy is a 4xx problem and changes
// nothing.
func TestCancellationPolicy(t *testing.T) {
	e := MustServer(t)
	var r wire.Resource
	e.ok(e.do("POST", "/v1/resources", `{"id":"show","name":"Show","buckets":{"2027-06-01T20:00":10},"timezone":"Europe/Paris",
		"price":{"amount":4500,"currency":"EUR"},
		"cancellation_policy":[{"before":"48h","percent":100},{"before":"24h","percent":50}]}`), http.StatusCreated, &r)
	want := []wire.RefundTier{{Before: "48h", Percent: 100}, {Before: "24h", Percent: 50}}
	if !reflect.DeepEqual(r.CancellationPolicy, want) {
		t.Fatalf("created with %+v, want %+v", r.CancellationPolicy, want)
	}
	for _, body := range []string{
		`{"cancellation_policy":[{"before":"24h","percent":50},{"before":"48h","percent":100}]}`, // not longest first
		`{"cancellation_policy":[{"before":"48h","percent":50},{"before":"24h","percent":100}]}`, // later refunds more
		`{"cancellation_policy":[{"before":"48h","percent":101}]}`,
		`{"cancellation_policy":[{"before":"48h","percent":-1}]}`,
		`{"cancellation_policy":[{"before":"-1h","percent":10}]}`,
		`{"cancellation_policy":[{"before":"9000h","percent":10}]}`,
		`{"cancellation_policy":[{"before":"soon","percent":10}]}`,
		`{"cancellation_policy":[{"percent":10}]}`,
		`{"cancellation_policy":[{"before":"1h"}]}`,
		`{"cancellation_policy":[{"before":"11h","percent":1},{"before":"10h","percent":1},{"before":"9h","percent":1},{"before":"8h","percent":1},
			{"before":"7h","percent":1},{"before":"6h","percent":1},{"before":"5h","percent":1},{"before":"4h","percent":1},
			{"before":"3h","percent":1},{"before":"2h","percent":1},{"before":"1h","percent":1}]}`,
	} {
		mustProblem(t, e.do("PATCH", "/v1/resources/show", body), http.StatusUnprocessableEntity, "invalid")
	}
	mustProblem(t, e.do("PATCH", "/v1/resources/show", `{"cancellation_policy":[{"before":"1h","percent":10,"fee":1}]}`), http.StatusBadRequest, "malformed")
	mustProblem(t, e.do("PATCH", "/v1/resources/show", `{"cancellation_policy":{"before":"1h"}}`), http.StatusBadRequest, "malformed")
	mustProblem(t, e.do("POST", "/v1/resources", `{"id":"x","name":"x","buckets":{"a":1},"cancellation_policy":[{"before":"1h","percent":200}]}`),
		http.StatusUnprocessableEntity, "invalid")
	e.ok(e.do("GET", "/v1/resources/show", ""), http.StatusOK, &r)
	if !reflect.DeepEqual(r.CancellationPolicy, want) {
		t.Fatalf("after refused updates: %+v", r.CancellationPolicy)
	}
	// Replaced; kept by an update that does not name it; removed by [].
	r = wire.Resource{}
	e.ok(e.do("PATCH", "/v1/resources/show", `{"cancellation_policy":[{"before":"0s","percent":80}]}`), http.StatusOK, &r)
	if want := []wire.RefundTier{{Before: "0s", Percent: 80}}; !reflect.DeepEqual(r.CancellationPolicy, want) {
		t.Fatalf("replaced by %+v", r.CancellationPolicy)
	}
	r = wire.Resource{}
	e.ok(e.do("PATCH", "/v1/resources/show", `{"name":"Show 2"}`), http.StatusOK, &r)
	if len(r.CancellationPolicy) != 1 {
		t.Fatalf("a rename lost the policy: %+v", r.CancellationPolicy)
	}
	r = wire.Resource{}
	e.ok(e.do("PATCH", "/v1/resources/show", `{"cancellation_policy":[]}`), http.StatusOK, &r)
	if r.CancellationPolicy != nil {
		t.Fatalf("removed, still %+v", r.CancellationPolicy)
	}
}

// TestConfirmPaymentRequired: with payments on, a plain confirm of a priced hold not paid for
// is 409 payment-required and changes nothing; a free resource confirms as always; an operator
// may confirm unpaid with ?unpaid=true, a customer may not. With payments off, as before.
func TestConfirmPaymentRequired(t *testing.T) {
	e := MustServer(t, func(c *Config) { c.PaymentRequired = true })
	e.ok(e.do("POST", "/v1/resources", `{"id":"paid","name":"Paid","buckets":{"a":5},"price":{"amount":1500,"currency":"EUR"}}`), http.StatusCreated, nil)
	e.ok(e.do("POST", "/v1/resources", `{"id":"free","name":"Free","buckets":{"a":5}}`), http.StatusCreated, nil)
	var h, f wire.Hold
	e.ok(e.do("POST", "/v1/resources/paid/holds", `{"buckets":["a"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)
	e.ok(e.do("POST", "/v1/resources/free/holds", `{"buckets":["a"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &f)

	mustProblem(t, e.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm", "", e.as("u-1")...), http.StatusConflict, "payment-required")
	mustProblem(t, e.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm", ""), http.StatusConflict, "payment-required") // operators too, without the override
	mustProblem(t, e.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm?unpaid=true", "", e.as("u-1")...), http.StatusForbidden, "forbidden")
	mustProblem(t, e.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm?unpaid=maybe", ""), http.StatusBadRequest, "malformed")
	var got wire.Hold
	e.ok(e.do("GET", "/v1/resources/paid/holds/"+h.ID, "", e.as("u-1")...), http.StatusOK, &got)
	if got.Status != "held" {
		t.Fatalf("refused confirms changed the hold: %+v", got)
	}
	e.ok(e.do("POST", "/v1/resources/free/holds/"+f.ID+"/confirm", "", e.as("u-1")...), http.StatusOK, &got)
	if got.Status != "confirmed" {
		t.Fatalf("free hold: %+v", got)
	}
	e.ok(e.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm?unpaid=true", ""), http.StatusOK, &got)
	if got.Status != "confirmed" {
		t.Fatalf("operator's unpaid confirm: %+v", got)
	}

	off := MustServer(t)
	off.ok(off.do("POST", "/v1/resources", `{"id":"paid","name":"Paid","buckets":{"a":5},"price":{"amount":1500,"currency":"EUR"}}`), http.StatusCreated, nil)
	off.ok(off.do("POST", "/v1/resources/paid/holds", `{"buckets":["a"],"quantity":1}`, off.as("u-1")...), http.StatusCreated, &h)
	off.ok(off.do("POST", "/v1/resources/paid/holds/"+h.ID+"/confirm", "", off.as("u-1")...), http.StatusOK, &got)
	if got.Status != "confirmed" {
		t.Fatalf("payments off: %+v", got)
	}
}
