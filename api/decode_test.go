package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/allot/allot/actors/booking"
)

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8", "application/json;charset=\"utf-8\""} {
		if err := checkContentType([]string{ct}); err != nil {
			t.Errorf("%q refused: %v", ct, err)
		}
	}
	for _, cts := range [][]string{nil, {""}, {"text/json"}, {"application/json", "application/json"}, {"application/json; charset=utf-16"}, {"application/problem+json"}, {"application/merge-patch+json"}} {
		if err := checkContentType(cts); answerFor(err).kind.status != http.StatusUnsupportedMediaType {
			t.Errorf("%q: %v, want 415", cts, err)
		}
	}
}

func TestCheckMembers(t *testing.T) {
	allowAll := func(string, int, string) bool { return true }
	for _, good := range []string{`{}`, ` {"a":[1,{"b":{}}],"c":{"d":[]}} `, `{"a":{"a":{"a":1}}}`, `{"a":[{"x":1},{"x":2}]}`, strings.Repeat(`{"a":`, 8) + "1" + strings.Repeat("}", 8)} {
		if err := checkMembers([]byte(good), allowAll); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"b":1}}`, `{"a":[{"x":1,"x":2}]}`, `{}{}`, `{} 1`, `[]`, `1`, `{"a":1`, `{"a" 1}`, `{,}`, strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9)} {
		if err := checkMembers([]byte(bad), allowAll); booking.ErrorCode(err) != booking.CodeMalformed {
			t.Errorf("%s: %v, want malformed", bad, err)
		}
	}
	// The allow callback sees the parent member and the depth.
	var seen []string
	_ = checkMembers([]byte(`{"p":{"q":1},"l":[{"r":2}]}`), func(parent string, depth int, name string) bool {
		seen = append(seen, parent+"/"+string(rune('0'+depth))+"/"+name)
		return true
	})
	if got := strings.Join(seen, " "); got != "/0/p p/1/q /0/l []/2/r" {
		t.Fatalf("allow saw %s", got)
	}
}

func TestLoneSurrogate(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"name":"plain"}`, -1},
		{`{"name":"\u00e9\u202e"}`, -1},
		{`{"name":"\ud83d\ude00"}`, -1}, // a pair: U+1F600
		{`{"name":"a\\ud800"}`, -1},     // an escaped backslash, then text
		{`{"name":"a\"\\u","x":"\"\\"}`, -1},
		{`{"\ud800":1}`, 2},
		{`{"name":"\ud800"}`, 9},
		{`{"name":"a\ud800b"}`, 10},
		{`{"name":"\udc00"}`, 9},
		{`{"name":"\ude00\ud83d"}`, 9},
		{`{"name":"\ud83d\ud83d\ude00"}`, 9},
		{`{"name":"\ud83d\u0041"}`, 9},
		{`{"name":"\ud83d\n"}`, 9},
		{`{"a":"\ud83d","b":"\ude00"}`, 6},
	}
	for _, tt := range tests {
		if got := loneSurrogate([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.body, got, tt.want)
		}
	}
	// Through the decoder: 400, where encoding/json alone would store U+FFFD.
	_, _, err := decodeCreateResource([]byte(`{"id":"r","name":"x\ud800","buckets":{"all":1}}`))
	if booking.ErrorCode(err) != booking.CodeMalformed || !strings.Contains(booking.ErrorMessage(err), "surrogate") {
		t.Fatalf("lone surrogate: %v", err)
	}
	_, op, err := decodeCreateResource([]byte(`{"id":"r","name":"x\ud83d\ude00","buckets":{"all":1}}`))
	if err != nil || op.Name != "x\U0001F600" {
		t.Fatalf("surrogate pair: %v %v", op, err)
	}
}
