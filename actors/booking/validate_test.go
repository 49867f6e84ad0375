package booking

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// mustInvalid fails unless err is an *Error with CodeInvalid whose message is ASCII (client
// values are quoted, so control and bidi characters never reach a log or a problem body).
func mustInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if ErrorCode(err) != CodeInvalid {
		t.Errorf("%s: %v, want invalid", what, err)
		return
	}
	for _, r := range ErrorMessage(err) {
		if r < ' ' || r > '~' {
			t.Errorf("%s: message %q has a non-ASCII or control character", what, ErrorMessage(err))
			return
		}
	}
}

// checkRule runs one table of a string rule: good values pass, bad ones are invalid.
func checkRule(t *testing.T, name string, fn func(string) error, good, bad []string) {
	t.Helper()
	for _, s := range good {
		if err := fn(s); err != nil {
			t.Errorf("%s(%q) refused: %v", name, s, err)
		}
	}
	for _, s := range bad {
		mustInvalid(t, name+"("+quote(s)+")", fn(s))
	}
}

func TestValidateID(t *testing.T) {
	good := []string{"r1", "a|b", `a\b:c;d@e!~`, "...", ".a", "a.", "a..b", strings.Repeat("x", MaxIDLength)}
	bad := []string{"", ".", "..", "a b", "a/b", "a?b", "a#b", "a%b", "a\tb", "a\x00", "a\x7f", "é",
		strings.Repeat("x", MaxIDLength+1)}
	checkRule(t, "ValidateID", func(s string) error { return ValidateID("id", s) }, good, bad)
	checkRule(t, "ValidateUserID", func(s string) error { return ValidateUserID("user_id", s) }, good,
		append(bad, strings.Repeat("u", MaxUserIDLength+1)))
	if err := ValidateID("hold id", "a b"); !strings.HasPrefix(ErrorMessage(err), "hold id ") {
		t.Errorf("message %q does not name the field", ErrorMessage(err))
	}
}

func TestValidateName(t *testing.T) {
	good := []string{"Room", "Zimmer für zwei", "部屋", "a\u00a0b", "emoji \U0001F600", "\ufffd", "a'b\"c",
		strings.Repeat("n", MaxNameLength), strings.Repeat("é", MaxNameLength/2)}
	bad := []string{
		"", strings.Repeat("n", MaxNameLength+1), strings.Repeat("é", MaxNameLength/2) + "x",
		"a\xffb", "\xed\xa0\x80", // not UTF-8; the second is an encoded lone surrogate
		"a\x00b", "tab\there", "line\nbreak", "cr\r", "del\x7f", "c1\u0085", "c1\u009b",
		"evil\u202egnp.exe", "\u202aembedding", "\u202doverride", "\u2066isolate\u2069", "\u200fRLM", "\u200eLRM", "\u061cALM",
	}
	checkRule(t, "ValidateName", ValidateName, good, bad)
}

func TestValidateBucketKey(t *testing.T) {
	good := []string{"all", "seat-A1", "a|b", "a/b?#%", "2026-12-24", "2026-02-28", "2024-02-29", "2026-12-24T18:30",
		"2026-12-24T00:00", "12-34", "2026", "2026x01-01", "room:101", strings.Repeat("k", MaxBucketKeyLen)}
	bad := []string{"", "a b", "a,b", `a"b`, `a\b`, "a\n", "a\x7f", "café", "ü", strings.Repeat("k", MaxBucketKeyLen+1),
		"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "2026-01-1", "2026-12-24T24:00",
		"2026-12-24T18:60", "2026-12-24T9:30", "2026-12-24T18:30:00", "2026-12-24Z", "2026-", "0000-00-00", "2026-12-24t18:30"}
	checkRule(t, "ValidateBucketKey", ValidateBucketKey, good, bad)
	for _, k := range good {
		if !ValidBucketKey(k) {
			t.Errorf("ValidBucketKey(%q) = false", k)
		}
	}
	for _, k := range bad {
		if ValidBucketKey(k) {
			t.Errorf("ValidBucketKey(%q) = true", k)
		}
	}
}

func TestValidateCapacities(t *testing.T) {
	many := map[string]int64{}
	for i := 0; i <= MaxBuckets; i++ {
		many[strings.Repeat("k", 1+i%60)+string(rune('a'+i/60))] = 1
	}
	tests := []struct {
		name    string
		buckets map[string]int64
		ok      bool
	}{
		{"none", nil, true},
		{"zero and max", map[string]int64{"all": 0, "2026-12-24": MaxCapacity}, true},
		{"negative", map[string]int64{"all": -1}, false},
		{"too large", map[string]int64{"all": MaxCapacity + 1}, false},
		{"bad key", map[string]int64{"2026-02-30": 1}, false},
		{"too many", many, false},
	}
	for _, tt := range tests {
		err := ValidateCapacities(tt.buckets)
		if tt.ok {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		} else {
			mustInvalid(t, tt.name, err)
		}
	}
	// The first bad key in sorted order is the one reported, whatever the map order.
	for range 20 {
		err := ValidateCapacities(map[string]int64{"b b": 1, "a a": 1, "c c": 1})
		if !strings.Contains(ErrorMessage(err), `"a a"`) {
			t.Fatalf("reported %v, want the first key", err)
		}
	}
}

func TestValidateHoldBuckets(t *testing.T) {
	keys := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(dayLayout)
		}
		return out
	}
	tests := []struct {
		name string
		keys []string
		ok   bool
	}{
		{"one", []string{"all"}, true},
		{"max", keys(MaxHoldBuckets), true},
		{"none", nil, false},
		{"empty", []string{}, false},
		{"too many", keys(MaxHoldBuckets + 1), false},
		{"twice", []string{"a", "b", "a"}, false},
		{"bad key", []string{"a", ""}, false},
		{"bad date", []string{"2026-12-32"}, false},
	}
	for _, tt := range tests {
		err := ValidateHoldBuckets(tt.keys)
		if tt.ok {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		} else {
			mustInvalid(t, tt.name, err)
		}
	}
}

func TestValidateQuantity(t *testing.T) {
	for _, q := range []int64{1, 2, MaxQuantity} {
		if err := ValidateQuantity(q); err != nil {
			t.Errorf("%d: %v", q, err)
		}
	}
	for _, q := range []int64{0, -1, MaxQuantity + 1, -1 << 63} {
		mustInvalid(t, "quantity", ValidateQuantity(q))
	}
}

func TestParseHoldTTL(t *testing.T) {
	good := map[string]time.Duration{"1s": time.Second, "10m": 10 * time.Minute, "1h30m": 90 * time.Minute,
		"168h": MaxHoldTTL, "1.5s": 1500 * time.Millisecond}
	for s, want := range good {
		if got, err := ParseHoldTTL(s); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "10", "ten", "999ms", "0s", "-1m", "168h1ms", "1.0005s", "1d"} {
		_, err := ParseHoldTTL(s)
		mustInvalid(t, quote(s), err)
	}
	mustInvalid(t, "sub-millisecond", ValidateHoldTTL(time.Second+1))
}

func TestValidatePrice(t *testing.T) {
	for _, m := range []Money{{0, "EUR"}, {12900, "USD"}, {1, "JPY"}, {1, "CHF"}, {1, "XAU"}} {
		if err := ValidatePrice(m); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
	for _, m := range []Money{{-1, "EUR"}, {1, ""}, {1, "eur"}, {1, "EURO"}, {1, "ZZZ"}, {1, "XXX"}, {1, "XTS"},
		{1, "HRK"}, {1, "DEM"}, {1, "E\x00R"}, {1, "AAA"}, {1, "ZZZZ"}} {
		mustInvalid(t, m.Currency, ValidatePrice(m))
	}
}

// TestActiveCurrencies checks the table's shape, which ValidCurrency's binary search needs,
// and that every code in it is found.
func TestActiveCurrencies(t *testing.T) {
	codes := strings.Split(activeCurrencies, " ")
	if len(codes) < 150 || len(activeCurrencies) != 4*len(codes)-1 {
		t.Fatalf("%d codes in %d bytes", len(codes), len(activeCurrencies))
	}
	for i, c := range codes {
		if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Errorf("code %d %q is not three capital letters", i, c)
		}
		if i > 0 && codes[i-1] >= c {
			t.Errorf("codes %q, %q out of order or repeated", codes[i-1], c)
		}
		if !ValidCurrency(c) {
			t.Errorf("ValidCurrency(%q) = false", c)
		}
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	checkRule(t, "ValidateIdempotencyKey", ValidateIdempotencyKey,
		[]string{"k", "key with spaces", "~!@#$%^&*()", strings.Repeat("k", MaxIdempotencyLen)},
		[]string{"", strings.Repeat("k", MaxIdempotencyLen+1), "a\x01b", "clé", "a\x7f", "tab\t"})
}

// FuzzValidateName: a name the rule accepts is UTF-8 without control or bidi characters.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"Room", "a\u202eb", "\x00", "\xff", strings.Repeat("n", 257)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateName(s)
		if err != nil {
			mustInvalid(t, "name", err)
			return
		}
		if s == "" || len(s) > MaxNameLength || strings.ToValidUTF8(s, "") != s || strings.ContainsFunc(s, func(r rune) bool {
			return r < ' ' || (r >= 0x7f && r < 0xa0) || isBidiControl(r)
		}) {
			t.Fatalf("%q accepted", s)
		}
	})
}

// TestValidDateIsTimeParse: validDate reads the digits itself; it must accept exactly what
// time.Parse accepts and formats back unchanged, over every day of four years (a leap year and
// a century among them), slot times around the bounds, and every one-character change of them.
func TestValidDateIsTimeParse(t *testing.T) {
	reference := func(k string) bool {
		for _, layout := range [...]string{dayLayout, slotLayout} {
			if len(k) == len(layout) {
				tm, err := time.Parse(layout, k)
				return err == nil && tm.Format(layout) == k
			}
		}
		return false
	}
	var keys []string
	for _, year := range []string{"2026", "2028", "2100", "2000", "0000"} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				keys = append(keys, fmt.Sprintf("%s-%02d-%02d", year, m, d))
			}
		}
	}
	for _, hm := range []string{"00:00", "23:59", "24:00", "12:60", "09:05", "9:005", "1a:00"} {
		keys = append(keys, "2026-02-28T"+hm, "2024-02-29T"+hm, "2026-02-29T"+hm)
	}
	alphabet := []byte("0129-T:a ")
	for _, k := range append([]string(nil), keys...) {
		for i := range len(k) {
			for _, c := range alphabet {
				b := []byte(k)
				b[i] = c
				keys = append(keys, string(b))
			}
		}
	}
	for _, k := range keys {
		if got, want := looksLikeDate(k) && validDate(k), looksLikeDate(k) && reference(k); got != want {
			t.Errorf("validDate(%q) = %v, time.Parse says %v", k, got, want)
		}
	}
}

// TestIDByteIsTheRule checks the bit set idByte reads against the rule it encodes, for every
// byte value.
func TestIDByteIsTheRule(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c > ' ' && c <= '~' && c != '/' && c != '?' && c != '#' && c != '%'
		if got := idByte(byte(c)); got != want {
			t.Errorf("idByte(%#x) = %v, want %v", c, got, want)
		}
	}
}
