package webhooks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests and for nodes running on the memory store: what
// it holds ends with the process. Create it with NewMemStore.
type MemStore struct {
	mu         sync.Mutex
	endpoints  map[string]Endpoint
	deliveries map[string]Delivery
	byEvent    map[[2]string]string // (endpoint, event) -> delivery id
	attempts   map[string][]Attempt
	inbox      map[[2]string]bool // (consumer, event id) recorded by AddEvents
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{endpoints: map[string]Endpoint{}, deliveries: map[string]Delivery{},
		byEvent: map[[2]string]string{}, attempts: map[string][]Attempt{}, inbox: map[[2]string]bool{}}
}

// ms keeps a time to the millisecond in UTC, as the SQL stores do.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func (s *MemStore) CreateEndpoint(_ context.Context, e Endpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[e.ID]; ok {
		return fmt.Errorf("create endpoint %s: %w", e.ID, ErrExists)
	}
	e.EventTypes = slices.Clone(e.EventTypes)
	e.FailingSince, e.CreatedAt, e.UpdatedAt = ms(e.FailingSince), ms(e.CreatedAt), ms(e.UpdatedAt)
	s.endpoints[e.ID] = e
	return nil
}

func (s *MemStore) GetEndpoint(_ context.Context, id string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[id]
	if !ok {
		return Endpoint{}, fmt.Errorf("get endpoint %s: %w", id, ErrNotFound)
	}
	e.EventTypes = slices.Clone(e.EventTypes)
	return e, nil
}

func (s *MemStore) ListEndpoints(context.Context) ([]Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Endpoint, 0, len(s.endpoints))
	for _, e := range s.endpoints {
		e.EventTypes = slices.Clone(e.EventTypes)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *MemStore) DeleteEndpoint(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[id]; !ok {
		return fmt.Errorf("delete endpoint %s: %w", id, ErrNotFound)
	}
	delete(s.endpoints, id)
	for did, d := range s.deliveries {
		if d.EndpointID == id {
			delete(s.deliveries, did)
			delete(s.byEvent, [2]string{id, d.EventID})
			delete(s.attempts, did)
		}
	}
	return nil
}

func (s *MemStore) SetEndpointState(_ context.Context, id string, st EndpointState, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[id]
	if !ok {
		return fmt.Errorf("set endpoint state %s: %w", id, ErrNotFound)
	}
	e.Disabled, e.DisabledReason, e.FailingSince, e.UpdatedAt = st.Disabled, st.DisabledReason, ms(st.FailingSince), ms(now)
	s.endpoints[id] = e
	return nil
}

func (s *MemStore) AddDeliveries(_ context.Context, ds []Delivery) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.addLocked(ds, nil)), nil
}

func (s *MemStore) AddEvents(_ context.Context, consumer string, _ time.Time, evs []EventDeliveries) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []Delivery
	for _, ev := range evs {
		k := [2]string{consumer, ev.EventID}
		if s.inbox[k] {
			continue
		}
		s.inbox[k] = true
		added = s.addLocked(ev.Deliveries, added)
	}
	return added, nil
}

// addLocked stores the deliveries of ds not stored yet and appends them to added. s.mu is held.
func (s *MemStore) addLocked(ds []Delivery, added []Delivery) []Delivery {
	for _, d := range ds {
		k := [2]string{d.EndpointID, d.EventID}
		if _, ok := s.byEvent[k]; ok {
			continue
		}
		if _, ok := s.deliveries[d.ID]; ok {
			continue
		}
		d.Payload = slices.Clone(d.Payload)
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = ms(d.NextAttemptAt), ms(d.CreatedAt), ms(d.UpdatedAt)
		s.deliveries[d.ID] = d
		s.byEvent[k] = d.ID
		added = append(added, d)
	}
	return added
}

func (s *MemStore) GetDelivery(_ context.Context, endpointID, id string) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok || d.EndpointID != endpointID {
		return Delivery{}, fmt.Errorf("get delivery %s: %w", id, ErrNotFound)
	}
	d.Payload = slices.Clone(d.Payload)
	return d, nil
}

// newestFirst orders deliveries as ListDeliveries returns them.
func newestFirst(a, b Delivery) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func (s *MemStore) ListDeliveries(_ context.Context, endpointID string, limit int, before string) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cursor *Delivery
	if before != "" {
		c, ok := s.deliveries[before]
		if !ok || c.EndpointID != endpointID {
			return nil, nil
		}
		cursor = &c
	}
	var out []Delivery
	for _, d := range s.deliveries {
		if d.EndpointID != endpointID || (cursor != nil && !newestFirst(*cursor, d)) {
			continue
		}
		d.Payload = slices.Clone(d.Payload)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return newestFirst(out[i], out[j]) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *MemStore) ListAttempts(_ context.Context, deliveryID string) ([]Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts[deliveryID]), nil
}

func (s *MemStore) ClaimDue(_ context.Context, now, leaseUntil time.Time, limit int, exclude []string) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, leaseUntil = ms(now), ms(leaseUntil)
	var due []Delivery
	for _, d := range s.deliveries {
		if d.Status == StatusPending && !d.NextAttemptAt.After(now) && !slices.Contains(exclude, d.EndpointID) {
			due = append(due, d)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAttemptAt.Equal(due[j].NextAttemptAt) {
			return due[i].NextAttemptAt.Before(due[j].NextAttemptAt)
		}
		return due[i].ID < due[j].ID
	})
	if len(due) > limit {
		due = due[:limit]
	}
	sort.Slice(due, func(i, j int) bool { return due[i].ID < due[j].ID })
	for i := range due {
		due[i].NextAttemptAt = leaseUntil
		s.deliveries[due[i].ID] = due[i]
		due[i].Payload = slices.Clone(due[i].Payload)
	}
	return due, nil
}

func (s *MemStore) RecordAttempt(_ context.Context, a Attempt, o Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordLocked(a, o)
}

func (s *MemStore) RecordAttempts(_ context.Context, rs []AttemptRecord) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(rs))
	for i, r := range rs {
		errs[i] = s.recordLocked(r.Attempt, r.Outcome)
	}
	return errs, nil
}

// recordLocked is RecordAttempt with s.mu held.
func (s *MemStore) recordLocked(a Attempt, o Outcome) error {
	d, ok := s.deliveries[a.DeliveryID]
	if !ok {
		return fmt.Errorf("record attempt %s: %w", a.DeliveryID, ErrNotFound)
	}
	if d.Attempts != a.N-1 {
		return fmt.Errorf("record attempt %s #%d: %w", a.DeliveryID, a.N, ErrStale)
	}
	a.At = ms(a.At)
	a.Duration = a.Duration.Truncate(time.Millisecond)
	d.Attempts = a.N
	d.Status, d.NextAttemptAt, d.LastStatusCode, d.LastError = o.Status, ms(o.NextAttemptAt), o.LastStatusCode, o.LastError
	d.UpdatedAt = a.At
	s.deliveries[d.ID] = d
	s.attempts[d.ID] = append(s.attempts[d.ID], a)
	return nil
}

func (s *MemStore) Reschedule(_ context.Context, endpointID, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok || d.EndpointID != endpointID {
		return fmt.Errorf("reschedule delivery %s: %w", id, ErrNotFound)
	}
	d.Status, d.NextAttemptAt, d.UpdatedAt = StatusPending, ms(at), ms(at)
	s.deliveries[id] = d
	return nil
}
