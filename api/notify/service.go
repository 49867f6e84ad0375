package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/feed"
)

// Deps are the Service's collaborators. Store, Resources and Contacts are required; a nil
// Mailer, Pusher or SMS turns that channel off.
type Deps struct {
	Store     Store
	Resources Resources
	Contacts  Contacts
	// HoldContacts, if set, gives a hold's own contact, which wins over Contacts for that
	// hold's messages (nil: the users' contacts only).
	HoldContacts HoldContacts
	Mailer       Mailer
	// Pusher reaches every platform (FCM); APNs, when set, takes the "ios" devices.
	Pusher Pusher
	APNs   Pusher
	SMS    SMSSender
	// Now is the service's one clock (time.Now when nil).
	Now func() time.Time
	// Log gets ids and errors, never addresses or message text (slog.Default when nil).
	Log *slog.Logger
	// Metrics is where the service's metrics are registered (nil: not exported).
	Metrics prometheus.Registerer
}

// Service is the notification service: Handle consumes events; the workers started by
// Start (or driven by FireTimers and Deliver in tests) send what is due. Create it with New.
type Service struct {
	cfg Config
	d   Deps
	tpl *Templates
	m   *metrics
	// stop is closed by Close: the workers finish the attempt in flight (bounded by the
	// providers' timeouts) and return; notifications claimed but not attempted are taken
	// again when their lease runs out.
	stop     chan struct{}
	stopOnce sync.Once
	// wake asks the workers for a round now rather than at the next tick, one channel per
	// delivery loop (Config.Workers): a notification was just recorded due, or one was
	// retried by hand. Capacity 1: a burst of wakes while a round runs makes one more round,
	// not one per wake.
	wake []chan struct{}
	// slots bounds the attempts in flight across the delivery loops (Config.Concurrency).
	slots chan struct{}
	wg    sync.WaitGroup
	run   sync.Once
}

// New returns a Service; it starts nothing.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.Resources == nil || d.Contacts == nil {
		return nil, errors.New("notify: Store, Resources and Contacts are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	tpl, err := ParseTemplates()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(d.Metrics)
	if err != nil {
		return nil, err
	}
	wake := make([]chan struct{}, cfg.Workers)
	for i := range wake {
		wake[i] = make(chan struct{}, 1)
	}
	return &Service{cfg: cfg, d: d, tpl: tpl, m: m, stop: make(chan struct{}), wake: wake,
		slots: make(chan struct{}, cfg.Concurrency)}, nil
}

// holdData is the hold after-image an event carries (the JSON of api/wire.Hold).
type holdData struct {
	ID         string     `json:"id"`
	ResourceID string     `json:"resource_id"`
	UserID     string     `json:"user_id"`
	Status     string     `json:"status"`
	Buckets    []string   `json:"buckets"`
	Quantity   int64      `json:"quantity"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

// Handle is the event consumer (a feed.Handler): it decides and records what ev leads to,
// and returns nil only once that is stored, so the bus may acknowledge the event. It is
// idempotent by ev.ID: a redelivered event adds nothing. An event whose data is not a hold
// is acknowledged without effect, since redelivering it cannot make it one. The node consumes
// with HandleBatch; Handle is the same decision for one event, without an inbox row.
func (s *Service) Handle(ctx context.Context, ev feed.Event) error {
	after, ok := s.afterImage(ev)
	if !ok {
		return nil
	}
	rec, err := s.plan(ctx, ev, after, newBatchView())
	if err != nil {
		return fmt.Errorf("notify handle: %w", err)
	}
	if rec.Hold == nil {
		return nil
	}
	added, err := s.d.Store.Apply(ctx, rec)
	if err != nil {
		return fmt.Errorf("notify handle: %w", err)
	}
	if added > 0 {
		s.Wake() // recorded due now: no reason to wait for the tick
	}
	return nil
}

// HandleBatch is the batch event consumer (the shape of a bus batch handler, one fetch of
// the durable consumer named consumer): it decides what each event of evs leads to, in
// order, each against the hold as the batch's earlier events left it, and stores every
// effect with the events' inbox rows in one transaction (Store.ApplyEvents), so that a
// redelivered event adds nothing and an acknowledged event's notifications are stored.
//
// It returns err when nothing was stored (the whole batch is to be redelivered); else nil,
// or errs (len(evs)) with errs[i] set for each event that could not be decided (a lookup of
// its resource, hold or user failed): nothing is stored for it, nor for the later events of
// its hold in the batch (errs set too), so that a hold's events are still applied in order
// when they come back. An event that is not a hold, or changes nothing, is acknowledged
// without a row, as in Handle.
func (s *Service) HandleBatch(ctx context.Context, consumer string, evs []feed.Event) (errs []error, err error) {
	v := newBatchView()
	batch := make([]Consumed, 0, len(evs))
	failed := map[string]bool{} // holds with an event not decided
	for i, ev := range evs {
		after, ok := s.afterImage(ev)
		if !ok {
			continue
		}
		var rec Record
		var perr error
		if failed[after.HoldID] {
			perr = fmt.Errorf("notify: event %s waits for an earlier event of its hold", ev.ID)
		} else if rec, perr = s.plan(ctx, ev, after, v); perr != nil {
			perr = fmt.Errorf("notify: event %s: %w", ev.ID, perr)
		}
		if perr != nil {
			failed[after.HoldID] = true
			if errs == nil {
				errs = make([]error, len(evs))
			}
			errs[i] = perr
			continue
		}
		if rec.Hold != nil {
			batch = append(batch, Consumed{EventID: ev.ID, Record: rec})
		}
	}
	added, err := s.d.Store.ApplyEvents(ctx, consumer, s.d.Now(), batch)
	if err != nil {
		return nil, fmt.Errorf("notify: handle %d events: %w", len(evs), err)
	}
	if added > 0 {
		s.Wake() // recorded due now: no reason to wait for the tick
	}
	return errs, nil
}

// afterImage is the hold state ev carries; false for an event the service does not consume
// or whose data is not a hold (logged: no redelivery can make it one).
func (s *Service) afterImage(ev feed.Event) (HoldState, bool) {
	if !slices.Contains(ConsumedTypes(), ev.Type) {
		return HoldState{}, false
	}
	var hd holdData
	if err := json.Unmarshal(ev.Data, &hd); err != nil || hd.ID == "" || hd.UserID == "" {
		s.d.Log.Warn("notify: event without a hold", "event", ev.ID, "type", ev.Type)
		return HoldState{}, false
	}
	after := HoldState{HoldID: hd.ID, ResourceID: hd.ResourceID, UserID: hd.UserID, Status: hd.Status,
		Buckets: hd.Buckets, Quantity: hd.Quantity}
	if after.ResourceID == "" {
		after.ResourceID = ev.ResourceID
	}
	if hd.ExpiresAt != nil && hd.Status == StatusHeld {
		after.ExpiresAt = hd.ExpiresAt.UTC()
	}
	return after, true
}

// batchView is what the events of one batch read, kept for the batch: each hold as the
// batch's earlier events left it (Decide's Prev for the next one: the store has not seen
// them yet), and the resources and preferences looked up, once per batch rather than per
// event. A batch spans one fetch, so a resource or preference changed meanwhile is read at
// most a fetch late, as a one-event consumer behind by a fetch would read it.
type batchView struct {
	holds map[string]*HoldState // nil: the store has no such hold
	res   map[string]ResourceInfo
	prefs map[string]Preferences
}

func newBatchView() *batchView {
	return &batchView{holds: map[string]*HoldState{}, res: map[string]ResourceInfo{}, prefs: map[string]Preferences{}}
}

// plan decides what ev (whose after-image is after) leads to, against v, and updates v; the
// zero Record when it changes nothing.
func (s *Service) plan(ctx context.Context, ev feed.Event, after HoldState, v *batchView) (Record, error) {
	prev, seen := v.holds[after.HoldID]
	if !seen {
		if h, err := s.d.Store.Hold(ctx, after.HoldID); err == nil {
			prev = &h
		} else if !errors.Is(err, ErrNotFound) {
			return Record{}, err
		}
	}
	res, ok := v.res[after.ResourceID]
	if !ok {
		var err error
		if res, err = s.resource(ctx, after.ResourceID); err != nil {
			return Record{}, err
		}
		v.res[after.ResourceID] = res
	}
	v.holds[after.HoldID] = prev
	in := Input{EventID: ev.ID, Type: ev.Type, Version: ev.Version, After: after, Prev: prev, Now: s.d.Now()}
	if sp, ok := SpanOf(after.Buckets, zone(res.Timezone), res.SlotEvery); ok {
		in.Start = sp.Start
	}
	plan := Decide(s.rules(res), in)
	if plan.Hold == nil {
		return Record{}, nil
	}
	rec := Record{Hold: plan.Hold, SetTimers: plan.SetTimers, CancelTimers: plan.CancelTimers}
	if len(plan.Sends) > 0 {
		p, ok := v.prefs[plan.Hold.UserID]
		if !ok {
			var err error
			if p, err = s.preferences(ctx, plan.Hold.UserID); err != nil {
				return Record{}, err
			}
			v.prefs[plan.Hold.UserID] = p
		}
		rec.Notifications = s.notifications(*plan.Hold, p, plan.Sends)
	}
	v.holds[after.HoldID] = plan.Hold // Decide returns a hold only when it is newer
	return rec, nil
}

// rules are the node's rules with the resource's override.
func (s *Service) rules(res ResourceInfo) Rules {
	r := s.cfg.Rules
	if res.ExpiryWarning > 0 {
		r.ExpiryWarning = res.ExpiryWarning
	}
	return r
}

// resource looks a resource up; a resource that is gone is described by its id.
func (s *Service) resource(ctx context.Context, id string) (ResourceInfo, error) {
	res, err := s.d.Resources.Resource(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ResourceInfo{Name: id}, nil
	}
	return res, err
}

// preferences are a user's, or the defaults.
func (s *Service) preferences(ctx context.Context, userID string) (Preferences, error) {
	p, err := s.d.Store.Preferences(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return Preferences{}, nil
	}
	return p, err
}

// notifications expands sends to one outbox row per channel the user (preferences p) wants
// and the node has.
func (s *Service) notifications(h HoldState, p Preferences, sends []Send) []Notification {
	now := s.d.Now()
	var out []Notification
	for _, snd := range sends {
		for _, ch := range channelsFor(p, snd.Kind) {
			if !s.hasChannel(ch) {
				continue
			}
			out = append(out, Notification{ID: NotificationID(snd.EventID, ch), EventID: snd.EventID, Channel: ch,
				Kind: snd.Kind, HoldID: h.HoldID, UserID: h.UserID, Status: StatusPending, NextAttemptAt: now,
				CreatedAt: now, UpdatedAt: now})
		}
	}
	return out
}

// DefaultChannels are used for a kind the user chose nothing for: e-mail and push.
func DefaultChannels() []Channel { return []Channel{ChannelEmail, ChannelPush} }

func channelsFor(p Preferences, k Kind) []Channel {
	if chs, ok := p.Channels[k]; ok {
		return chs
	}
	return DefaultChannels()
}

func (s *Service) hasChannel(ch Channel) bool {
	switch ch {
	case ChannelEmail:
		return s.d.Mailer != nil
	case ChannelPush:
		return s.d.Pusher != nil || s.d.APNs != nil
	case ChannelSMS:
		return s.d.SMS != nil
	}
	return false
}

// FireTimers claims the timers due now, decides each against the hold's current state and
// records its sends; it returns how many timers it fired. A timer made moot fires with no
// sends, so it is done either way.
func (s *Service) FireTimers(ctx context.Context) (int, error) {
	now := s.d.Now()
	ts, err := s.d.Store.ClaimTimers(ctx, now, now.Add(s.cfg.Lease), s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	fired := 0
	for _, t := range ts {
		var hp *HoldState
		h, err := s.d.Store.Hold(ctx, t.HoldID)
		switch {
		case err == nil:
			hp = &h
		case !errors.Is(err, ErrNotFound):
			return fired, err
		}
		var ns []Notification
		if hp != nil {
			res, err := s.resource(ctx, hp.ResourceID)
			if err != nil {
				return fired, err
			}
			if sends := DecideTimer(s.rules(res), t, hp, now); len(sends) > 0 {
				p, err := s.preferences(ctx, hp.UserID)
				if err != nil {
					return fired, err
				}
				ns = s.notifications(*hp, p, sends)
			}
		}
		if err := s.d.Store.FireTimer(ctx, t, ns); errors.Is(err, ErrStale) {
			continue // moved or cancelled since the claim: its new self fires later
		} else if err != nil {
			return fired, err
		}
		fired++
	}
	return fired, nil
}

// Wake makes the workers (if started) run a round now instead of at the next PollEvery; it
// never blocks, and wakes that arrive while a round runs are coalesced into one more round.
// Safe for concurrent use.
func (s *Service) Wake() {
	for _, w := range s.wake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Start runs the workers until Close: Config.Workers delivery loops, each, every PollEvery
// or at once when woken (Wake), delivering due notifications (the first loop fires due timers
// first). The loops claim batches of their own and share the Concurrency slots, so that one
// loop's sends fill the slots while another waits for its claim, for the slowest send of its
// batch or for its outcomes' commit.
func (s *Service) Start() {
	s.run.Do(func() {
		for i, wake := range s.wake {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.loop(i == 0, wake)
			}()
		}
	})
}

func (s *Service) loop(timers bool, wake <-chan struct{}) {
	ctx := context.Background()
	tick := time.NewTicker(s.cfg.PollEvery)
	defer tick.Stop()
	for {
		if timers {
			if _, err := s.FireTimers(ctx); err != nil {
				s.d.Log.Warn("notify: timers", "err", err)
			}
		}
		for {
			n, err := s.Deliver(ctx)
			if err != nil {
				s.d.Log.Warn("notify: deliver", "err", err)
			}
			if n < s.cfg.Batch || err != nil || s.stopping() {
				break
			}
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-wake:
		}
	}
}

// Close stops the workers and waits for them; safe to call twice.
func (s *Service) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}

func (s *Service) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
