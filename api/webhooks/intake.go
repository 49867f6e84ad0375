package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/allot/allot/api/feed"
)

// Handle is the event consumer (a feed.Handler): it records one delivery of ev for every
// enabled endpoint that wants its type, and returns nil once they are stored, so that the
// bus may acknowledge the event. Redelivered events add nothing (deliveries are keyed by
// endpoint and event).
func (d *Dispatcher) Handle(ctx context.Context, ev feed.Event) error {
	eps, err := d.endpoints(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: handle %s: %w", ev.ID, err)
	}
	ds, err := deliveriesOf(eps, ev, d.cfg.Now(), nil)
	if err != nil {
		return fmt.Errorf("webhooks: handle %s: %w", ev.ID, err)
	}
	if len(ds) == 0 {
		return nil
	}
	added, err := d.store.AddDeliveries(ctx, ds)
	if err != nil {
		return fmt.Errorf("webhooks: handle %s: %w", ev.ID, err)
	}
	if added > 0 {
		d.mu.Lock()
		d.due = true
		d.mu.Unlock()
		d.poke()
	}
	return nil
}

// HandleBatch is the batch event consumer (the shape of a bus batch handler): it records the
// deliveries of evs, for every enabled endpoint that wants each event's type, together with
// the events in consumer's inbox, in one transaction (Store.AddEvents), so that a
// redelivered event adds nothing (an event no endpoint wants stores nothing at all). It
// returns err when nothing was stored (the whole batch
// should be redelivered); else nil, or errs with errs[i] set for each event whose payload
// does not encode (nothing stored for it: no redelivery can fix it).
//
// The deliveries added go straight to their endpoints' lanes, claimed as they are stored,
// as far as the free slots and the lanes allow (at most laneRounds*PerEndpoint queued per
// lane); the rest are stored due now, for the next claim.
func (d *Dispatcher) HandleBatch(ctx context.Context, consumer string, evs []feed.Event) (errs []error, err error) {
	eps, err := d.endpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: handle %d events: %w", len(evs), err)
	}
	now := d.cfg.Now()
	lease := now.Add(d.cfg.ClaimLease)
	batch := make([]EventDeliveries, 0, len(evs))
	for i, ev := range evs {
		ds, perr := deliveriesOf(eps, ev, now, nil)
		if perr != nil {
			if errs == nil {
				errs = make([]error, len(evs))
			}
			errs[i] = fmt.Errorf("webhooks: event %s: %w", ev.ID, perr)
			continue
		}
		if len(ds) > 0 { // an event no endpoint wants needs nothing stored, not even its inbox row
			batch = append(batch, EventDeliveries{EventID: ev.ID, Deliveries: ds})
		}
	}

	// Reserve slots for the deliveries that will go straight to a lane.
	d.mu.Lock()
	room := 0
	if !d.closed {
		room = max(d.cfg.MaxInFlight-d.inFlight, 0)
	}
	laneRoom := map[string]int{}
	reserved := map[string]bool{} // delivery ids
	for _, ev := range batch {
		for j := range ev.Deliveries {
			dl := &ev.Deliveries[j]
			lr, ok := laneRoom[dl.EndpointID]
			if !ok {
				lr = laneRounds * d.cfg.PerEndpoint
				if l := d.lanes[dl.EndpointID]; l != nil {
					lr = max(lr-len(l.queue), 0)
				}
			}
			if room > 0 && lr > 0 && !reserved[dl.ID] {
				room, lr = room-1, lr-1
				dl.NextAttemptAt = lease // claimed by this node as it is stored
				reserved[dl.ID] = true
			}
			laneRoom[dl.EndpointID] = lr
		}
	}
	d.inFlight += len(reserved)
	d.mu.Unlock()

	var added []Delivery
	if len(batch) > 0 {
		added, err = d.store.AddEvents(ctx, consumer, now, batch)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	queued, unclaimed := 0, 0
	var busyDue []string // endpoints with deliveries stored due behind a busy lane
	if err == nil && !d.closed {
		for _, dl := range added {
			if reserved[dl.ID] {
				delete(reserved, dl.ID)
				d.queueLocked(dl)
				queued++
			} else if l := d.lanes[dl.EndpointID]; l != nil && len(l.queue) >= d.cfg.PerEndpoint {
				if !slices.Contains(busyDue, dl.EndpointID) {
					busyDue = append(busyDue, dl.EndpointID)
				}
			} else {
				unclaimed++
			}
		}
	}
	// A reserved delivery not added was stored before (a redelivery); on close, what was
	// stored claimed waits for its lease to end, as any claim in flight does.
	d.inFlight -= len(reserved)
	if err != nil {
		return nil, fmt.Errorf("webhooks: handle %d events: %w", len(evs), err)
	}
	if unclaimed > 0 && !d.closed {
		d.due = true
		d.poke()
	}
	// What waits behind a busy lane is claimed once the lane has room (pollWantedLocked): a
	// poll now would skip the endpoint and read past its whole backlog for nothing.
	for _, id := range busyDue {
		if !slices.Contains(d.dueBusy, id) {
			d.dueBusy = append(d.dueBusy, id)
		}
	}
	return errs, nil
}

// deliveriesOf appends to ds one pending delivery of ev for every enabled endpoint of eps
// that wants its type.
func deliveriesOf(eps []Endpoint, ev feed.Event, now time.Time, ds []Delivery) ([]Delivery, error) {
	var payload []byte
	for _, ep := range eps {
		if ep.Disabled || !ep.Wants(ev.Type) {
			continue
		}
		if payload == nil {
			var err error
			if payload, err = Payload(ev); err != nil {
				return ds, err
			}
		}
		ds = append(ds, Delivery{ID: DeliveryID(ep.ID, ev.ID), EndpointID: ep.ID, EventID: ev.ID, EventType: ev.Type,
			Payload: payload, Status: StatusPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	return ds, nil
}

// Payload is the body of an event's deliveries, the Standard Webhooks shape (type,
// timestamp, data) plus the event's identity and order: id, resource_id, version, index and,
// for hold events, subject.
func Payload(ev feed.Event) ([]byte, error) {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return json.Marshal(struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Timestamp  time.Time       `json:"timestamp"`
		ResourceID string          `json:"resource_id"`
		Version    uint64          `json:"version"`
		Index      int             `json:"index"`
		Subject    string          `json:"subject,omitempty"`
		Data       json.RawMessage `json:"data"`
	}{ev.ID, ev.Type, ev.OccurredAt.UTC(), ev.ResourceID, ev.Version, ev.Index, ev.Subject, data})
}

// endpoints returns the endpoints, from a cache at most EndpointCacheTTL old.
func (d *Dispatcher) endpoints(ctx context.Context) ([]Endpoint, error) {
	now := d.cfg.Now()
	d.mu.Lock()
	if d.cacheOK && now.Sub(d.cachedAt) < d.cfg.EndpointCacheTTL {
		eps := d.cache
		d.mu.Unlock()
		return eps, nil
	}
	d.mu.Unlock()
	eps, err := d.store.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.cache, d.cachedAt, d.cacheOK = eps, now, true
	d.mu.Unlock()
	return eps, nil
}

// forgetEndpoints drops the cache after a change made here.
func (d *Dispatcher) forgetEndpoints() {
	d.mu.Lock()
	d.cacheOK = false
	d.mu.Unlock()
}
