package booking

import (
	"sort"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Value rules: what an id, a name, a bucket key, a capacity, a quantity, a hold TTL, a price
// and an Idempotency-Key may be. They are the one source of truth for validation: the Decide*
// methods apply them, and the HTTP edge calls the same functions before a command leaves it,
// so that bad input is refused before it reaches an actor and edge and model cannot disagree.
//
// Every Validate* function returns nil or an *Error with CodeInvalid whose message names the
// field and quotes the value (shortened, ASCII-only). The Valid* predicates are the same rules
// as booleans, for callers that have their own wording.

// maxQuoted is how many bytes of a client value a message quotes back.
const maxQuoted = 64

// Date-like bucket keys must use one of these layouts exactly.
const (
	dayLayout  = "2006-01-02"
	slotLayout = "2006-01-02T15:04"
)

// quote quotes a client value for an error message, shortened so that a huge value does not
// come back in full, and escaped so that control and bidi characters cannot reorder the text.
func quote(s string) string {
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "..."
	}
	return strconv.QuoteToASCII(s)
}

func invalidf(format string, args ...any) error { return Errorf(CodeInvalid, format, args...) }

// ValidID reports whether s may be a resource or hold id (user ids have the same rule with
// MaxUserIDLength): 1..MaxIDLength printable ASCII characters without space, '/', '?', '#'
// or '%', so that it fits in a URL path segment unescaped; and not "." or "..", which a URL
// path (and any client that normalises one) reads as "this" and "parent".
func ValidID(s string) bool { return validID(s, MaxIDLength) }

func validID(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

// idBytes is the set of bytes an id may hold, a bit per byte value below 128: printable ASCII
// ('!'..'~') without '/', '?', '#' and '%'. One test per byte instead of six comparisons: ids
// are checked on every hold.
const (
	idBytesLo = uint64(0xffffffff00000000) &^ (1<<' ' | 1<<'/' | 1<<'?' | 1<<'#' | 1<<'%')
	idBytesHi = uint64(0x7fffffffffffffff) // '@'..'~'; DEL (127) is not printable
)

func idByte(c byte) bool {
	if c < 64 {
		return idBytesLo&(1<<c) != 0
	}
	return c < 128 && idBytesHi&(1<<(c-64)) != 0
}

// ValidateID checks a resource or hold id (ValidID). field names it in the message.
func ValidateID(field, s string) error {
	if !ValidID(s) {
		return invalidf("%s must be 1-%d printable ASCII characters without spaces, / ? # or %%, and not . or ..", field, MaxIDLength)
	}
	return nil
}

// ValidateUserID checks a user id: the id rule (ValidID) with MaxUserIDLength.
func ValidateUserID(field, s string) error {
	if !validID(s, MaxUserIDLength) {
		return invalidf("%s must be 1-%d printable ASCII characters without spaces, / ? # or %%, and not . or ..", field, MaxUserIDLength)
	}
	return nil
}

// ValidName reports whether s may name a resource: 1..MaxNameLength bytes of UTF-8 without
// control characters (NUL, C0, DEL, C1) and without bidirectional formatting characters
// (U+202E and kin), which would let a name reorder the text shown around it.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLength || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return false
		}
	}
	return true
}

// isBidiControl reports the Unicode bidirectional formatting characters: ALM, LRM, RLM, the
// embeddings and overrides U+202A..U+202E and the isolates U+2066..U+2069.
func isBidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' || ('\u202a' <= r && r <= '\u202e') || ('\u2066' <= r && r <= '\u2069')
}

// ValidateName checks a resource name (ValidName).
func ValidateName(s string) error {
	if !ValidName(s) {
		return invalidf("name must be 1-%d bytes of UTF-8 without control or bidirectional formatting characters", MaxNameLength)
	}
	return nil
}

// ValidBucketKey reports whether s may name a bucket: 1..MaxBucketKeyLen printable ASCII
// characters without space, ',', '"' or '\'. Keys are opaque to the model (a date, a slot,
// "all"), but a key that looks like a date (four digits and '-') must be a real day
// YYYY-MM-DD or slot YYYY-MM-DDTHH:MM, so that 2026-02-30 or 2026-2-3 never becomes a bucket
// no client can find again.
func ValidBucketKey(s string) bool {
	return validKeyChars(s) && (!looksLikeDate(s) || validDate(s))
}

func validKeyChars(s string) bool {
	if len(s) == 0 || len(s) > MaxBucketKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == ',' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func looksLikeDate(k string) bool {
	if len(k) < 5 || k[4] != '-' {
		return false
	}
	for i := 0; i < 4; i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

// validDate reports whether k is a day YYYY-MM-DD or a slot YYYY-MM-DDTHH:MM in canonical
// form (what time.Parse with dayLayout or slotLayout accepts and formats back to k), so that
// 2026-02-30, 2026-2-3 and 2026-02-03T9:00 are all refused. It reads the digits itself: it
// runs for every bucket of every hold, and time.Parse costs a hundred nanoseconds a key.
func validDate(k string) bool {
	if len(k) != len(dayLayout) && (len(k) != len(slotLayout) || k[10] != 'T' || k[13] != ':') {
		return false
	}
	if k[4] != '-' || k[7] != '-' {
		return false
	}
	year, ok1 := digits(k, 0, 4)
	month, ok2 := digits(k, 5, 2)
	day, ok3 := digits(k, 8, 2)
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return false
	}
	if len(k) == len(dayLayout) {
		return true
	}
	hour, ok1 := digits(k, 11, 2)
	minute, ok2 := digits(k, 14, 2)
	return ok1 && ok2 && hour < 24 && minute < 60
}

// digits reads the n decimal digits of k at i.
func digits(k string, i, n int) (int, bool) {
	v := 0
	for _, c := range []byte(k[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysIn is the number of days of month (1-12) in year, in the proleptic Gregorian calendar
// (as package time).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ValidateBucketKey checks a bucket key (ValidBucketKey).
func ValidateBucketKey(k string) error {
	if !validKeyChars(k) {
		return invalidf("bucket key %s must be 1-%d printable ASCII characters without spaces, commas, quotes or backslashes", quote(k), MaxBucketKeyLen)
	}
	if looksLikeDate(k) && !validDate(k) {
		return invalidf("bucket key %s looks like a date but is not a valid YYYY-MM-DD or YYYY-MM-DDTHH:MM", quote(k))
	}
	return nil
}

// ValidateCapacity checks one bucket of a resource: its key and a capacity in
// 0..MaxCapacity.
func ValidateCapacity(key string, c int64) error {
	if err := ValidateBucketKey(key); err != nil {
		return err
	}
	if c < 0 || c > MaxCapacity {
		return invalidf("capacity of bucket %s must be between 0 and %d", quote(key), int64(MaxCapacity))
	}
	return nil
}

// ValidateCapacities checks the buckets of a creation or an update: at most MaxBuckets, each
// by ValidateCapacity. Keys are checked in sorted order, so that the refusal does not depend
// on map iteration order. An empty map passes (a creation needs a bucket; the caller says so).
func ValidateCapacities(buckets map[string]int64) error {
	if len(buckets) > MaxBuckets {
		return invalidf("a resource has at most %d buckets", MaxBuckets)
	}
	keys := make([]string, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateCapacity(k, buckets[k]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateHoldBuckets checks the buckets a hold claims: 1..MaxHoldBuckets valid keys, none
// twice.
func ValidateHoldBuckets(keys []string) error {
	if len(keys) == 0 {
		return invalidf("a hold needs at least one bucket")
	}
	if len(keys) > MaxHoldBuckets {
		return invalidf("a hold claims at most %d buckets", MaxHoldBuckets)
	}
	for i, k := range keys {
		if err := ValidateBucketKey(k); err != nil {
			return err
		}
		for _, prev := range keys[:i] { // at most 62 keys: a scan beats a map
			if prev == k {
				return invalidf("bucket %s appears twice", quote(k))
			}
		}
	}
	return nil
}

// ValidateQuantity checks the units a hold claims in each of its buckets: 1..MaxQuantity.
func ValidateQuantity(q int64) error {
	if q < 1 || q > MaxQuantity {
		return invalidf("quantity must be between 1 and %d", MaxQuantity)
	}
	return nil
}

// ValidateHoldTTL checks a hold TTL: MinHoldTTL..MaxHoldTTL, in whole milliseconds (the unit
// it travels in between nodes and is stored in).
func ValidateHoldTTL(ttl time.Duration) error {
	if ttl < MinHoldTTL || ttl > MaxHoldTTL {
		return invalidf("hold_ttl must be between %s and %s", MinHoldTTL, MaxHoldTTL)
	}
	if ttl%time.Millisecond != 0 {
		return invalidf("hold_ttl must be a whole number of milliseconds")
	}
	return nil
}

// ParseHoldTTL parses a hold TTL written as a Go duration ("10m", "1h30m") and checks it
// (ValidateHoldTTL).
func ParseHoldTTL(s string) (time.Duration, error) {
	ttl, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalidf("hold_ttl must be a duration such as 10m or 1h30m")
	}
	if err := ValidateHoldTTL(ttl); err != nil {
		return 0, err
	}
	return ttl, nil
}

// ValidatePrice checks a unit price: a non-negative amount of an active ISO 4217 currency.
func ValidatePrice(m Money) error {
	if m.Amount < 0 {
		return invalidf("price.amount must not be negative")
	}
	return ValidateCurrency(m.Currency)
}

// ValidateCurrency checks an ISO 4217 currency code (ValidCurrency).
func ValidateCurrency(s string) error {
	if !ValidCurrency(s) {
		return invalidf("price.currency %s must be an active ISO 4217 currency code, such as EUR", quote(s))
	}
	return nil
}

// ValidateIdempotencyKey checks a non-empty Idempotency-Key: 1..MaxIdempotencyLen printable
// ASCII characters (space included, as HTTP header values allow).
func ValidateIdempotencyKey(k string) error {
	ok := len(k) > 0 && len(k) <= MaxIdempotencyLen
	for i := 0; ok && i < len(k); i++ {
		ok = k[i] >= ' ' && k[i] <= '~'
	}
	if !ok {
		return invalidf("Idempotency-Key must be 1-%d printable ASCII characters", MaxIdempotencyLen)
	}
	return nil
}
