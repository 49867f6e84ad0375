package api

import (
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestKindOf(t *testing.T) {
	slugs := map[string]bool{}
	for _, code := range problemCodes() {
		k := kindOf(code)
		if slugs[k.slug] {
			t.Errorf("slug %s used twice", k.slug)
		}
		slugs[k.slug] = true
		if k.status < 400 || k.title == "" || k.code == "" {
			t.Errorf("%s: %+v", code, k)
		}
		if code != booking.CodeInternal && k.code == booking.CodeInternal {
			t.Errorf("%s falls through to internal", code)
		}
	}
	if k := kindOf("no-such-code"); k.status != 500 || k.code != booking.CodeInternal {
		t.Errorf("unknown code: %+v", k)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", -time.Second: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", 90 * time.Second: "90"} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}
