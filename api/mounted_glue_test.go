package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

func TestOwnerAvailability(t *testing.T) {
	d := &funcDispatcher{fn: func(_ context.Context, cmd *protos.Command) (*protos.Reply, error) {
		switch cmd.ResourceId {
		case "r1":
			return &protos.Reply{Resource: &protos.Resource{Id: "r1", Version: 9,
				Buckets: map[string]*protos.Bucket{"all": {Capacity: 5, Held: 2, Confirmed: 1}}}}, nil
		case "gone":
			return &protos.Reply{Error: &protos.Error{Code: booking.CodeNotFound, Message: "no such resource"}}, nil
		}
		return nil, errors.New("unreachable")
	}}
	r := OwnerAvailability{Dispatcher: d}
	s, err := r.ReadAvailability(context.Background(), "r1")
	if err != nil || s.Version != 9 || s.Availability.Buckets["all"].Available != 2 || s.Availability.ResourceID != "r1" {
		t.Fatalf("read = %+v, %v", s, err)
	}
	if d.last.GetGetResource() == nil || d.last.DeadlineUnixMs == 0 {
		t.Fatalf("command = %v", d.last)
	}
	if _, err := r.ReadAvailability(context.Background(), "gone"); booking.ErrorCode(err) != booking.CodeNotFound {
		t.Fatalf("unknown resource: %v", err)
	}
	if _, err := r.ReadAvailability(context.Background(), "x"); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("no answer: %v", err)
	}
}

func TestFailMatchesServerProblems(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for err, status := range map[error]int{
		booking.Errorf(booking.CodeNotFound, "x"): 404,
		booking.Errorf(booking.CodeInvalid, "x"):  422,
		booking.Errorf(booking.CodeConflict, "x"): 409,
		persistence.ErrUnavailable:                503,
		errors.New("boom"):                        500,
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("GET", "/v1/webhooks/x", nil)
		Fail(c, err)
		if w.Code != status || w.Header().Get("Content-Type") != ProblemContentType {
			t.Errorf("%v: %d %s", err, w.Code, w.Header().Get("Content-Type"))
		}
	}
}
