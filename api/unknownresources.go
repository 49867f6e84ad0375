package api

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// Defaults of the unknown-resource cache (Config.UnknownResourceTTL, UnknownResources).
const (
	// DefaultUnknownResourceTTL is short: a resource created through another node is
	// answered 404 here for at most this long after this node last found it missing.
	DefaultUnknownResourceTTL = 2 * time.Second
	// DefaultUnknownResources bounds the ids remembered (about 100 bytes each).
	DefaultUnknownResources = 100_000
)

// unknownResources is a Dispatcher that remembers, for a while, the resource ids whose owner
// answered that the resource does not exist, and answers further commands for them not_found
// itself: a client asking again and again for an id that does not exist (a scan, a typo in a
// poller, a flood) then costs no actor activation and no store read per request.
//
// Invariants: an id is remembered only from a not_found answer to a command about the
// resource itself (get, update, archive, place a hold, join the waitlist: for these
// not_found means that the resource does not exist, never a hold or an entry), and is
// forgotten when this edge dispatches a CreateResource for it, so an edge never hides a
// resource it created. A resource created through another node is hidden here for at most
// the TTL. At most max ids are held; when full, expired ids are swept, then arbitrary ones
// dropped (a dropped id only costs one more activation). Safe for concurrent use.
type unknownResources struct {
	next Dispatcher
	ttl  time.Duration
	max  int
	now  func() time.Time

	mu    sync.Mutex
	until map[string]unknownEntry // resource id -> when it is asked again, who said so
	// held is len(until), written under mu and read without it: lookup skips the lock and
	// the map while no id is remembered, the common case (issue 17, round 11: every command
	// of every request took the lock). A lookup racing the first remember may miss it, as
	// one that ran just before it would.
	held atomic.Int64
}

// unknownEntry is one remembered id: until when, and the owner that answered not_found
// (repeated in the edge's answers, as X-Allot-Owner, exactly as the owner's own answer).
type unknownEntry struct {
	until time.Time
	owner string
}

func newUnknownResources(next Dispatcher, ttl time.Duration, max int, now func() time.Time) *unknownResources {
	return &unknownResources{next: next, ttl: ttl, max: max, now: now, until: make(map[string]unknownEntry)}
}

// Dispatch answers a remembered unknown resource itself and passes every other command on.
func (u *unknownResources) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	return u.dispatch(cmd, func() (*protos.Reply, error) { return u.next.Dispatch(ctx, cmd) })
}

// DispatchWithin is Dispatch bounded by timeout, passed on by next's own bound if it has one
// (timedDispatcher).
func (u *unknownResources) DispatchWithin(ctx context.Context, timeout time.Duration, cmd *protos.Command) (*protos.Reply, error) {
	return u.dispatch(cmd, func() (*protos.Reply, error) { return dispatchWithin(ctx, u.next, timeout, cmd) })
}

func (u *unknownResources) dispatch(cmd *protos.Command, next func() (*protos.Reply, error)) (*protos.Reply, error) {
	rid := cmd.GetResourceId()
	if cmd.GetCreateResource() != nil {
		u.forget(rid)
		return next()
	}
	if owner, ok := u.lookup(rid); ok {
		return &protos.Reply{Owner: owner, Error: &protos.Error{Code: booking.CodeNotFound, Message: "resource " + strconv.Quote(rid) + " not found"}}, nil
	}
	reply, err := next()
	if err == nil && reply.GetError().GetCode() == booking.CodeNotFound && aboutResource(cmd) {
		u.remember(rid, reply.GetOwner())
	}
	return reply, err
}

// aboutResource reports whether a not_found answer to cmd means that its resource does not
// exist.
func aboutResource(cmd *protos.Command) bool {
	return cmd.GetGetResource() != nil || cmd.GetUpdateResource() != nil || cmd.GetArchiveResource() != nil ||
		cmd.GetPlaceHold() != nil || cmd.GetJoinWaitlist() != nil
}

// lookup reports whether rid is remembered as unknown and not expired, and which owner said
// so.
func (u *unknownResources) lookup(rid string) (string, bool) {
	if u.held.Load() == 0 {
		return "", false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.until[rid]
	if !ok {
		return "", false
	}
	if !u.now().Before(e.until) {
		delete(u.until, rid)
		u.held.Store(int64(len(u.until)))
		return "", false
	}
	return e.owner, true
}

func (u *unknownResources) remember(rid, owner string) {
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.until[rid]; !ok && len(u.until) >= u.max {
		for id, e := range u.until {
			if !now.Before(e.until) {
				delete(u.until, id)
			}
		}
		for id := range u.until { // still full: drop arbitrary ids until a sixteenth is free
			if len(u.until) < u.max-u.max/16 {
				break
			}
			delete(u.until, id)
		}
	}
	u.until[rid] = unknownEntry{until: now.Add(u.ttl), owner: owner}
	u.held.Store(int64(len(u.until)))
}

func (u *unknownResources) forget(rid string) {
	u.mu.Lock()
	delete(u.until, rid)
	u.held.Store(int64(len(u.until)))
	u.mu.Unlock()
}

// len is the number of ids held, expired ones included.
func (u *unknownResources) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.until)
}
