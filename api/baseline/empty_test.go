package baseline

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/allot/allot/api/wire"
)

func TestEmpty(t *testing.T) {
	base := mustServe(t, NewEmpty())
	createResource(t, base, "any", map[string]int64{"all": 1})
	a := placeHold(t, base, "any", "k", []string{"2026-12-24"}, 3, "u-1")
	var h wire.Hold
	if a.Status != http.StatusCreated || json.Unmarshal(a.Body, &h) != nil || h.ID != "h_empty" || h.Status != "held" {
		t.Fatalf("hold: %d %s, want the fixed hold", a.Status, a.Body)
	}
	// It decodes and validates like the others: the ceiling includes that work.
	if a := placeHold(t, base, "any", "", []string{"all"}, 0, "u"); a.Status != 422 || a.Code != "invalid" {
		t.Fatalf("invalid hold: %d %s", a.Status, a.Body)
	}
	if a := call(t, http.MethodPost, base+"/v1/resources/any/holds", "", "application/json", []byte("[")); a.Status != 400 {
		t.Fatalf("malformed hold: %d %s", a.Status, a.Body)
	}
	if b := availability(t, base, "any"); len(b) != 1 {
		t.Fatalf("availability %+v", b)
	}
	if a := call(t, http.MethodGet, base+"/nowhere", "", "", nil); a.Status != 404 || a.Code != "not_found" {
		t.Fatalf("unknown route: %d %s", a.Status, a.Body)
	}
}
