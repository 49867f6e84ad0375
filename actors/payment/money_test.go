package payment

import (
	"math"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestAmount(t *testing.T) {
	eur := func(n int64) *booking.Money { return &booking.Money{Amount: n, Currency: "EUR"} }
	for _, tc := range []struct {
		name     string
		price    *booking.Money
		qty      int64
		buckets  int
		want     int64
		wantCode string
	}{
		{"room for 2 over 3 nights", eur(4500), 2, 3, 27000, ""},
		{"one seat", eur(1999), 1, 1, 1999, ""},
		{"zero-decimal currency", &booking.Money{Amount: 5000, Currency: "JPY"}, 1, 2, 10000, ""},
		{"largest payment", eur(MaxAmount), 1, 1, MaxAmount, ""},
		{"over the largest payment", eur(MaxAmount), 1, 2, 0, booking.CodeInvalid},
		{"int64 overflow of the units", eur(1), math.MaxInt64, 3, 0, booking.CodeInvalid},
		{"int64 overflow of the price", eur(math.MaxInt64 / 2), 3, 1, 0, booking.CodeInvalid},
		{"no price", nil, 1, 1, 0, booking.CodeInvalid},
		{"price zero", eur(0), 1, 1, 0, booking.CodeInvalid},
		{"negative price", eur(-1), 1, 1, 0, booking.CodeInvalid},
		{"bad currency", &booking.Money{Amount: 1, Currency: "ZZZ"}, 1, 1, 0, booking.CodeInvalid},
		{"no units", eur(100), 0, 1, 0, booking.CodeInvalid},
		{"no buckets", eur(100), 1, 0, 0, booking.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Amount(tc.price, tc.qty, tc.buckets)
			if code := booking.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("code %q, want %q (%v)", code, tc.wantCode, err)
			}
			if err == nil && (got.Amount != tc.want || got.Currency != tc.price.Currency) {
				t.Fatalf("got %+v, want %d %s", got, tc.want, tc.price.Currency)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"none", Policy{}, true},
		{"48h full, 24h half", Policy{Tiers: []Tier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}}}, true},
		{"up to the start", Policy{Tiers: []Tier{{Before: 0, Percent: 20}}}, true},
		{"negative notice", Policy{Tiers: []Tier{{Before: -time.Hour, Percent: 100}}}, false},
		{"over 100%", Policy{Tiers: []Tier{{Before: time.Hour, Percent: 101}}}, false},
		{"negative percent", Policy{Tiers: []Tier{{Before: time.Hour, Percent: -1}}}, false},
		{"not ordered", Policy{Tiers: []Tier{{Before: 24 * time.Hour, Percent: 50}, {Before: 48 * time.Hour, Percent: 100}}}, false},
		{"same notice twice", Policy{Tiers: []Tier{{Before: 24 * time.Hour, Percent: 50}, {Before: 24 * time.Hour, Percent: 40}}}, false},
		{"later refunds more", Policy{Tiers: []Tier{{Before: 48 * time.Hour, Percent: 50}, {Before: 24 * time.Hour, Percent: 100}}}, false},
		{"too many tiers", Policy{Tiers: make([]Tier, MaxTiers+1)}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		} else if err != nil && booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%s: code %q", tc.name, booking.ErrorCode(err))
		}
	}
}

func TestPolicyRefund(t *testing.T) {
	start := time.Date(2027, 6, 1, 15, 0, 0, 0, time.UTC)
	p := Policy{Tiers: []Tier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}}}
	for _, tc := range []struct {
		notice time.Duration
		want   int64
	}{
		{72 * time.Hour, 5001}, {48 * time.Hour, 5001}, {48*time.Hour - time.Second, 2500},
		{24 * time.Hour, 2500}, {24*time.Hour - time.Second, 0}, {-time.Hour, 0},
	} {
		if got := p.Refund(5001, start, start.Add(-tc.notice)); got != tc.want {
			t.Errorf("notice %s: refund %d, want %d", tc.notice, got, tc.want)
		}
	}
	if got := p.Refund(5001, time.Time{}, start); got != 5001 {
		t.Errorf("unknown start: refund %d, want the first tier's 5001", got)
	}
	if got := (Policy{}).Refund(5001, start, start); got != 5001 {
		t.Errorf("no policy: refund %d, want all", got)
	}
	// Rounds down and never overflows.
	if got := (Policy{Tiers: []Tier{{Before: 0, Percent: 99}}}).Refund(math.MaxInt64, start, start.Add(-time.Hour)); got > math.MaxInt64 || got <= 0 {
		t.Errorf("large amount: refund %d", got)
	}
	for paid := int64(0); paid < 1000; paid++ {
		for pct := int64(0); pct <= 100; pct += 7 {
			got := (Policy{Tiers: []Tier{{Before: 0, Percent: pct}}}).Refund(paid, start, start)
			if want := paid * pct / 100; got != want {
				t.Fatalf("paid %d at %d%%: %d, want %d", paid, pct, got, want)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config{}.WithDefaults()
	if c != DefaultConfig {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{
		{Grace: -time.Second}, {Grace: 2 * time.Hour}, {LateWindow: -1},
		{AuthorizationLifetime: 8 * 24 * time.Hour}, {MaxAttempts: 101},
	} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
