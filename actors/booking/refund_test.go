package booking

import (
	"reflect"
	"testing"
	"time"
)

func TestValidateRefundTiers(t *testing.T) {
	ok := [][]RefundTier{
		nil,
		{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}},
		{{Before: 0, Percent: 0}},
		{{Before: MaxRefundNotice, Percent: 100}, {Before: 0, Percent: 100}},
	}
	for _, tiers := range ok {
		if err := ValidateRefundTiers(tiers); err != nil {
			t.Errorf("%v: %v", tiers, err)
		}
	}
	bad := [][]RefundTier{
		{{Before: -time.Second, Percent: 10}},
		{{Before: MaxRefundNotice + time.Millisecond, Percent: 10}},
		{{Before: time.Hour, Percent: 101}},
		{{Before: time.Hour, Percent: -1}},
		{{Before: 24 * time.Hour, Percent: 50}, {Before: 48 * time.Hour, Percent: 100}}, // not longest first
		{{Before: 24 * time.Hour, Percent: 50}, {Before: 24 * time.Hour, Percent: 40}},  // same notice twice
		{{Before: 48 * time.Hour, Percent: 50}, {Before: 24 * time.Hour, Percent: 100}}, // later refunds more
		make([]RefundTier, MaxRefundTiers+1),
	}
	for _, tiers := range bad {
		if err := ValidateRefundTiers(tiers); ErrorCode(err) != CodeInvalid {
			t.Errorf("%v: got %v, want invalid", tiers, err)
		}
	}
}

// The policy is a rule of the resource: set at creation, replaced or removed by an update
// (an empty list: none), refused when invalid without changing anything.
func TestRefundsRule(t *testing.T) {
	tiers := []RefundTier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}}
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 1}, Refunds: tiers})
	tiers[0].Percent = 1 // the state keeps its own copy
	if r, _ := s.Resource(); !reflect.DeepEqual(r.Refunds, []RefundTier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24 * time.Hour, Percent: 50}}) {
		t.Fatalf("created with %v", r.Refunds)
	}
	if _, err := NewState("r2").DecideCreate(CreateResource{ID: "r2", Name: "x", Buckets: map[string]int64{"a": 1},
		Refunds: []RefundTier{{Before: time.Hour, Percent: 200}}}, t0); ErrorCode(err) != CodeInvalid {
		t.Fatalf("create with 200%%: %v", err)
	}
	bad := []RefundTier{{Before: time.Hour, Percent: 10}, {Before: 2 * time.Hour, Percent: 5}}
	if _, err := s.DecideUpdate(UpdateResource{Refunds: &bad}, t0); ErrorCode(err) != CodeInvalid {
		t.Fatalf("update with unordered tiers: %v", err)
	}
	one := []RefundTier{{Before: 0, Percent: 80}}
	evs, err := s.DecideUpdate(UpdateResource{Refunds: &one}, t0)
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, evs)
	if r, _ := s.Resource(); !reflect.DeepEqual(r.Refunds, one) {
		t.Fatalf("updated to %v", r.Refunds)
	}
	name := "Other"
	evs, err = s.DecideUpdate(UpdateResource{Name: &name}, t0) // other updates keep it
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, evs)
	if r, _ := s.Resource(); !reflect.DeepEqual(r.Refunds, one) {
		t.Fatalf("after a rename: %v", r.Refunds)
	}
	none := []RefundTier{}
	evs, err = s.DecideUpdate(UpdateResource{Refunds: &none}, t0)
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, evs)
	if r, _ := s.Resource(); r.Refunds != nil {
		t.Fatalf("removed, still %v", r.Refunds)
	}
}

func TestFirstStart(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		keys []string
		tz   string
		want time.Time
	}{
		{[]string{"2030-03-20", "2030-03-19"}, "", time.Date(2030, 3, 19, 0, 0, 0, 0, time.UTC)},
		{[]string{"2030-03-19T18:30"}, "Europe/Paris", time.Date(2030, 3, 19, 18, 30, 0, 0, paris)},
		{[]string{"seat-12", "2030-07-01T09:00"}, "Europe/Paris", time.Date(2030, 7, 1, 9, 0, 0, 0, paris)},
		{[]string{"seat-12"}, "", time.Time{}},
		{[]string{"2030-03-19"}, "Nowhere/City", time.Time{}},
	} {
		if got := FirstStart(tc.keys, tc.tz); !got.Equal(tc.want) {
			t.Errorf("%v in %q: %v, want %v", tc.keys, tc.tz, got, tc.want)
		}
	}
}
