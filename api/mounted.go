package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Glue for routes that other packages hand to the edge (api/mount): the webhooks admin API
// (api/webhooks) and the live streams (api/live).

// Fail answers c with the problem err maps to, exactly as the server's own handlers do
// (Server.fail, which reads nothing of the server): the webhooks.ErrorWriter and
// live.StreamConfig.Fail of mounted routes, so that codes meet statuses in one place.
func Fail(c *gin.Context, err error) {
	var s Server
	s.fail(c, err)
}

// OwnerAvailability reads a resource's availability and version from its owner through a
// Dispatcher: the live streams' AvailabilityReader. Safe for concurrent use.
type OwnerAvailability struct {
	Dispatcher Dispatcher
	// Timeout bounds one read (default DefaultRequestTimeout); Now is the clock of the
	// command's deadline (default time.Now).
	Timeout time.Duration
	Now     func() time.Time
}

var _ live.AvailabilityReader = OwnerAvailability{}

// ReadAvailability asks the owner for the resource. The owner's refusals are *booking.Error
// (not_found for an unknown resource); no answer wraps persistence.ErrUnavailable.
func (o OwnerAvailability) ReadAvailability(ctx context.Context, rid string) (live.Snapshot, error) {
	timeout, now := o.Timeout, o.Now
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := o.Dispatcher.Dispatch(ctx, &protos.Command{ResourceId: rid, DeadlineUnixMs: now().Add(timeout).UnixMilli(),
		Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}})
	switch {
	case err != nil:
		return live.Snapshot{}, fmt.Errorf("read availability: %w: %w", persistence.ErrUnavailable, err)
	case reply == nil:
		return live.Snapshot{}, fmt.Errorf("read availability: %w", errNoPayload)
	case reply.Error != nil:
		return live.Snapshot{}, booking.Errorf(reply.Error.Code, "%s", reply.Error.Message)
	case reply.Resource == nil:
		return live.Snapshot{}, fmt.Errorf("read availability: %w", errNoPayload)
	}
	return live.Snapshot{Version: reply.Resource.Version,
		Availability: wire.Availability{ResourceID: rid, Buckets: bucketsFromProto(reply.Resource.Buckets)}}, nil
}

// MountedPolicies is Policies with the policies of the mounted routes added, HEAD taking
// each GET route's: the table Authenticate enforces on a server with Config.Mounted.
func MountedPolicies(mounted []mount.Route) auth.RoutePolicies {
	out := Policies()
	mount.AddPolicies(out, mounted)
	for _, r := range mounted {
		if r.Method == http.MethodGet {
			out[auth.Route{Method: http.MethodHead, Path: r.Path}] = r.Policy
		}
	}
	return out
}
