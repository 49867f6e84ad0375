package booking

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"r1", true},
		{"a|b", true},
		{`a\b:c;d@e!~`, true},
		{strings.Repeat("x", MaxIDLength), true},
		{strings.Repeat("x", MaxIDLength+1), false},
		{"", false},
		{".", false},
		{"..", false},
		{"...", true},
		{"a b", false},
		{"a/b", false},
		{"a?b", false},
		{"a#b", false},
		{"a%b", false},
		{"a\tb", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"é", false},
	} {
		if got := ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidBucketKey(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"2026-03-01", true},
		{"2026-02-30", false},
		{"all", true},
		{"a|b", true},
		{"a/b?#%", true},
		{strings.Repeat("k", MaxBucketKeyLen), true},
		{strings.Repeat("k", MaxBucketKeyLen+1), false},
		{"", false},
		{"a,b", false},
		{`a"b`, false},
		{`a\b`, false},
		{"a b", false},
		{"a\n", false},
		{"a\x7f", false},
		{"ü", false},
	} {
		if got := ValidBucketKey(tt.in); got != tt.want {
			t.Errorf("ValidBucketKey(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBucketAvailable(t *testing.T) {
	for _, tt := range []struct {
		b    Bucket
		want int64
	}{
		{Bucket{Capacity: 10}, 10},
		{Bucket{Capacity: 10, Held: 3, Confirmed: 2}, 5},
		{Bucket{Capacity: 5, Held: 3, Confirmed: 2}, 0},
		{Bucket{Capacity: 0}, 0},
		{Bucket{Capacity: MaxCapacity, Held: MaxCapacity}, 0},
	} {
		if got := tt.b.Available(); got != tt.want {
			t.Errorf("%+v.Available() = %d, want %d", tt.b, got, tt.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		s             Status
		valid, active bool
	}{
		{StatusHeld, true, true},
		{StatusConfirmed, true, true},
		{StatusCancelled, true, false},
		{StatusExpired, true, false},
		{"", false, false},
		{"HELD", false, false},
	} {
		if tt.s.Valid() != tt.valid || tt.s.Active() != tt.active {
			t.Errorf("%q: Valid=%v Active=%v, want %v %v", tt.s, tt.s.Valid(), tt.s.Active(), tt.valid, tt.active)
		}
	}
}
