package api

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// modelDispatcher runs the real booking model in-process: one booking.State per resource,
// each command decided and applied synchronously under one lock, the way the resource actor
// does it minus persistence. It is also the HoldLister, over the same states.
type modelDispatcher struct {
	now   func() time.Time
	owner string

	calls     atomic.Int64 // Dispatch calls
	listCalls atomic.Int64 // ListHolds calls

	mu       sync.Mutex
	states   map[string]*booking.State
	versions map[string]uint64
	nextHold int
}

func newModelDispatcher(now func() time.Time) *modelDispatcher {
	return &modelDispatcher{
		now:      now,
		owner:    "node-1:8090",
		states:   map[string]*booking.State{},
		versions: map[string]uint64{},
	}
}

func (d *modelDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	d.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if cmd.DeadlineUnixMs == 0 {
		return nil, fmt.Errorf("command without deadline")
	}
	if now.UnixMilli() > cmd.DeadlineUnixMs {
		return d.fail(booking.Errorf(booking.CodeUnavailable, "deadline passed")), nil
	}
	st, ok := d.states[cmd.ResourceId]
	if !ok {
		st = booking.NewState(cmd.ResourceId)
	}
	d.apply(cmd.ResourceId, st, st.ExpireDue(now))

	switch op := cmd.Op.(type) {
	case *protos.Command_CreateResource:
		c := op.CreateResource
		create := booking.CreateResource{ID: cmd.ResourceId, Name: c.Name, Buckets: c.Buckets, HoldTTL: time.Duration(c.HoldTtlMs) * time.Millisecond}
		if c.Price != nil {
			create.Price = &booking.Money{Amount: c.Price.Amount, Currency: c.Price.Currency}
		}
		evs, err := st.DecideCreate(create, now)
		if err != nil {
			return d.fail(err), nil
		}
		d.states[cmd.ResourceId] = st
		d.apply(cmd.ResourceId, st, evs)
		return d.resourceReply(st), nil
	case *protos.Command_GetResource:
		if !st.Exists() {
			return d.fail(booking.Errorf(booking.CodeNotFound, "resource %q not found", cmd.ResourceId)), nil
		}
		return d.resourceReply(st), nil
	case *protos.Command_UpdateResource:
		u := op.UpdateResource
		upd := booking.UpdateResource{Buckets: u.Buckets, Name: u.Name}
		if u.HoldTtlMs != nil {
			ttl := time.Duration(*u.HoldTtlMs) * time.Millisecond
			upd.HoldTTL = &ttl
		}
		evs, err := st.DecideUpdate(upd, now)
		if err != nil {
			return d.fail(err), nil
		}
		d.apply(cmd.ResourceId, st, evs)
		return d.resourceReply(st), nil
	case *protos.Command_PlaceHold:
		p := op.PlaceHold
		dec, err := st.DecidePlaceHold(booking.PlaceHold{
			HoldID: fmt.Sprintf("h-%d", d.nextHold+1), IdempotencyKey: p.IdempotencyKey,
			Buckets: p.Buckets, Quantity: p.Quantity, UserID: p.UserId,
		}, now)
		if err != nil {
			return d.fail(err), nil
		}
		if len(dec.Events) > 0 {
			d.nextHold++
		}
		d.apply(cmd.ResourceId, st, dec.Events)
		r := d.holdReply(st, dec.HoldID)
		r.Replayed = dec.Replayed
		return r, nil
	case *protos.Command_GetHold:
		if !st.Exists() {
			return d.fail(booking.Errorf(booking.CodeNotFound, "resource %q not found", cmd.ResourceId)), nil
		}
		if _, ok := st.Hold(op.GetHold.HoldId); !ok {
			return d.fail(booking.Errorf(booking.CodeNotFound, "hold %q not found", op.GetHold.HoldId)), nil
		}
		return d.holdReply(st, op.GetHold.HoldId), nil
	case *protos.Command_ConfirmHold:
		evs, err := st.DecideConfirm(booking.ConfirmHold{HoldID: op.ConfirmHold.HoldId}, now)
		if err != nil {
			return d.fail(err), nil
		}
		d.apply(cmd.ResourceId, st, evs)
		return d.holdReply(st, op.ConfirmHold.HoldId), nil
	case *protos.Command_CancelHold:
		evs, err := st.DecideCancel(booking.CancelHold{HoldID: op.CancelHold.HoldId}, now)
		if err != nil {
			return d.fail(err), nil
		}
		d.apply(cmd.ResourceId, st, evs)
		return d.holdReply(st, op.CancelHold.HoldId), nil
	default:
		return d.fail(booking.Errorf(booking.CodeMalformed, "command has no op")), nil
	}
}

func (d *modelDispatcher) apply(rid string, st *booking.State, evs []booking.Event) {
	for _, e := range evs {
		st.Apply(e)
	}
	if len(evs) > 0 {
		d.versions[rid]++
	}
}

func (d *modelDispatcher) fail(err error) *protos.Reply {
	return &protos.Reply{Owner: d.owner, Error: &protos.Error{Code: booking.ErrorCode(err), Message: booking.ErrorMessage(err)}}
}

func (d *modelDispatcher) resourceReply(st *booking.State) *protos.Reply {
	res, _ := st.Resource()
	r := &protos.Resource{
		Id: res.ID, Name: res.Name, HoldTtlMs: res.HoldTTL.Milliseconds(),
		Buckets: map[string]*protos.Bucket{}, Version: d.versions[res.ID],
		CreatedAtMs: res.CreatedAt.UnixMilli(), UpdatedAtMs: res.UpdatedAt.UnixMilli(),
	}
	if res.Price != nil {
		r.Price = &protos.Money{Amount: res.Price.Amount, Currency: res.Price.Currency}
	}
	for _, b := range st.Buckets() {
		r.Buckets[b.Key] = &protos.Bucket{Capacity: b.Capacity, Held: b.Held, Confirmed: b.Confirmed}
	}
	return &protos.Reply{Owner: d.owner, Resource: r}
}

func (d *modelDispatcher) holdReply(st *booking.State, id string) *protos.Reply {
	h, _ := st.Hold(id)
	return &protos.Reply{Owner: d.owner, Hold: &protos.Hold{
		Id: h.ID, ResourceId: h.ResourceID, Status: string(h.Status), Buckets: h.Buckets,
		Quantity: h.Quantity, UserId: h.UserID, IdempotencyKey: h.IdempotencyKey,
		CreatedAtMs: h.CreatedAt.UnixMilli(), ExpiresAtMs: h.ExpiresAt.UnixMilli(), UpdatedAtMs: h.UpdatedAt.UnixMilli(),
	}}
}

// ListHolds implements HoldLister over the model's states, ordered like the store.
func (d *modelDispatcher) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	d.listCalls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []booking.Hold
	for rid, st := range d.states {
		if f.ResourceID != "" && rid != f.ResourceID {
			continue
		}
		for i := 1; i <= d.nextHold; i++ {
			h, ok := st.Hold(fmt.Sprintf("h-%d", i))
			if !ok || (f.UserID != "" && h.UserID != f.UserID) || (f.Status != "" && h.Status != f.Status) {
				continue
			}
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// snapshot returns a comparable picture of every resource's state, to prove that refused
// requests changed nothing.
func (d *modelDispatcher) snapshot() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.states))
	for id := range d.states {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := fmt.Sprintf("holds=%d;", d.nextHold)
	for _, id := range ids {
		st := d.states[id]
		res, _ := st.Resource()
		out += fmt.Sprintf("%s v%d %q ttl=%s %v holds=%d;", id, d.versions[id], res.Name, res.HoldTTL, st.Buckets(), st.HoldCount())
	}
	return out
}

// fakeClock is an injected clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
