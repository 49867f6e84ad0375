package booking

import (
	"reflect"
	"testing"
	"time"
)

func TestTagsAndLocation(t *testing.T) {
	now := time.UnixMilli(1_900_000_000_000).UTC()
	s := NewState("r")
	evs, err := s.DecideCreate(CreateResource{ID: "r", Name: "Inn", Buckets: map[string]int64{"a": 1},
		Tags: []string{"sea-view", "family"}, Location: "Porto, Ribeira"}, now)
	if err != nil {
		t.Fatal(err)
	}
	apply(s, evs)
	r, _ := s.Resource()
	if !reflect.DeepEqual(r.Tags, []string{"family", "sea-view"}) || r.Location != "Porto, Ribeira" {
		t.Fatalf("created %+v", r)
	}
	r.Tags[0] = "x" // a copy: the state keeps its own
	if got, _ := s.Resource(); got.Tags[0] != "family" {
		t.Fatal("Resource aliases the state's tags")
	}
	none, loc := []string{}, ""
	evs, err = s.DecideUpdate(UpdateResource{Tags: &none, Location: &loc}, now)
	if err != nil {
		t.Fatal(err)
	}
	apply(s, evs)
	if r, _ := s.Resource(); r.Tags != nil || r.Location != "" {
		t.Fatalf("cleared %+v", r)
	}
	for _, bad := range [][]string{{"Upper"}, {"a b"}, {"dup", "dup"}, {""}, {"x23456789012345678901234567890123"}} {
		if _, err := s.DecideUpdate(UpdateResource{Tags: &bad}, now); ErrorCode(err) != CodeInvalid {
			t.Errorf("tags %q: %v", bad, err)
		}
	}
	bad := "a\u202eb"
	if _, err := s.DecideUpdate(UpdateResource{Location: &bad}, now); ErrorCode(err) != CodeInvalid {
		t.Errorf("location %q: %v", bad, err)
	}
}

func TestArchive(t *testing.T) {
	now := time.UnixMilli(1_900_000_000_000).UTC()
	s := NewState("r")
	if _, err := s.DecideArchive(ArchiveResource{}, now); ErrorCode(err) != CodeNotFound {
		t.Fatalf("absent: %v", err)
	}
	evs, _ := s.DecideCreate(CreateResource{ID: "r", Name: "Gig", Buckets: map[string]int64{"all": 1}}, now)
	apply(s, evs)
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h1", Buckets: []string{"all"}, Quantity: 1, UserID: "u1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	apply(s, d.Events)
	if _, err := s.DecideArchive(ArchiveResource{}, now); ErrorCode(err) != CodeConflict {
		t.Fatalf("with a live hold: %v", err)
	}
	jd, _ := s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w1", OfferHoldID: "h2", UserID: "u2", Buckets: []string{"all"}, Quantity: 1}, now)
	apply(s, jd.Events)
	evs, _ = s.DecideConfirm(ConfirmHold{HoldID: "h1"}, now)
	apply(s, evs)
	if _, err := s.DecideArchive(ArchiveResource{}, now); ErrorCode(err) != CodeConflict {
		t.Fatalf("with a waiting user: %v", err)
	}
	evs, _ = s.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u2"}, now)
	apply(s, evs)
	later := now.Add(time.Minute)
	evs, err = s.DecideArchive(ArchiveResource{}, later)
	if err != nil || len(evs) != 1 {
		t.Fatalf("archive: %v %v", evs, err)
	}
	apply(s, evs)
	if r, _ := s.Resource(); !r.Archived() || !r.ArchivedAt.Equal(later) || !r.UpdatedAt.Equal(later) {
		t.Fatalf("archived %+v", r)
	}
	if evs, err := s.DecideArchive(ArchiveResource{}, later); err != nil || len(evs) != 0 {
		t.Fatalf("again: %v %v", evs, err)
	}
	if _, err := s.DecidePlaceHold(PlaceHold{HoldID: "h3", Buckets: []string{"all"}, Quantity: 1, UserID: "u3"}, later); ErrorCode(err) != CodeConflict {
		t.Fatalf("hold on an archived resource: %v", err)
	}
	name := "x"
	if _, err := s.DecideUpdate(UpdateResource{Name: &name}, later); ErrorCode(err) != CodeConflict {
		t.Fatalf("update of an archived resource: %v", err)
	}
	if _, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w2", OfferHoldID: "h4", UserID: "u4", Buckets: []string{"all"}, Quantity: 1}, later); ErrorCode(err) != CodeConflict {
		t.Fatalf("join on an archived resource: %v", err)
	}
	// Its bookings stay cancellable.
	if evs, err := s.DecideCancel(CancelHold{HoldID: "h1"}, later); err != nil || len(evs) != 1 {
		t.Fatalf("cancel a booking of an archived resource: %v %v", evs, err)
	}
	// Restored from a store, it is still archived.
	r, _ := s.Resource()
	if got, _ := RestoreSaved(Saved{Resource: r}).Resource(); !got.Archived() {
		t.Fatal("restore forgot the archive")
	}
}

func apply(s *State, evs []Event) {
	for _, e := range evs {
		s.Apply(e)
	}
}
