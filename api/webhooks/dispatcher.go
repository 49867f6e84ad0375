package webhooks

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/api/feed"
)

// maxAnswerBytes bounds what is read of a receiver's answer (then discarded), so that the
// connection can be reused without letting a receiver stream forever.
const maxAnswerBytes = 64 << 10

// Dispatcher turns events into signed deliveries. Handle is its event consumer; a scheduler
// goroutine claims due deliveries from the Store and sends them. Create it with
// NewDispatcher; Close stops it. All methods are safe for concurrent use.
//
// Invariants: at most MaxInFlight deliveries claimed and unfinished on this node, at most
// PerEndpoint of them being sent to one endpoint; every goroutine it starts has ended when
// Close returns.
type Dispatcher struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	guard  *guard
	client *http.Client

	ctx    context.Context // ends at Close: aborts attempts in flight
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: a poll is wanted
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu        sync.Mutex
	closed    bool
	inFlight  int
	lanes     map[string]*lane // by endpoint id
	rnd       *rand.Rand
	timerStop func() bool
	cache     []Endpoint
	cachedAt  time.Time
	cacheOK   bool
}

// lane queues one endpoint's claimed deliveries.
type lane struct {
	queue   []Delivery
	running int
}

// NewDispatcher checks cfg, fills its defaults and starts the scheduler.
func NewDispatcher(cfg Config) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	d := &Dispatcher{cfg: cfg, store: cfg.Store, log: cfg.Logger,
		guard: newGuard(cfg.AllowPrivate, cfg.Resolver, cfg.AttemptTimeout),
		wake:  make(chan struct{}, 1), stop: make(chan struct{}), lanes: map[string]*lane{},
		rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, past the guard
			DialContext:           d.guard.dialContext,
			TLSHandshakeTimeout:   cfg.AttemptTimeout,
			ResponseHeaderTimeout: cfg.AttemptTimeout,
			MaxIdleConnsPerHost:   cfg.PerEndpoint,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		// A redirect is an answer, not a new target: 3xx counts as a failure (Standard
		// Webhooks), and following it would let a receiver point us anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.wg.Add(1)
	go d.run()
	d.poke()
	return d, nil
}

// Close stops the scheduler and aborts attempts in flight (their deliveries stay claimed
// until their lease ends, then any node tries them again). Safe to call twice.
func (d *Dispatcher) Close() error {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		if d.timerStop != nil && d.timerStop() {
			d.wg.Done() // the timer's callback will not run
		}
		d.timerStop = nil
		d.mu.Unlock()
		d.cancel()
		close(d.stop)
		d.wg.Wait()
		d.client.CloseIdleConnections()
	})
	return nil
}

// poke asks for a poll soon.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) run() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-d.wake:
		}
		d.poll()
	}
}

// claimBatch bounds one claim, so that one endpoint's backlog cannot fill every slot at once
// and a claimed delivery waits in its lane for at most a few attempts of its endpoint (well
// within ClaimLease; see Config.validate).
const claimBatch = 16

// poll claims what fits in the free slots, skipping endpoints whose lane already has a
// batch waiting, queues the deliveries on their endpoints' lanes and arms the next poll. A
// full batch asks for another poll at once.
func (d *Dispatcher) poll() {
	d.mu.Lock()
	free := min(d.cfg.MaxInFlight-d.inFlight, claimBatch)
	d.inFlight += max(free, 0) // reserved while claiming
	var busy []string
	for id, l := range d.lanes {
		if len(l.queue) >= d.cfg.PerEndpoint {
			busy = append(busy, id)
		}
	}
	d.mu.Unlock()

	var claimed []Delivery
	if free > 0 {
		now := d.cfg.Now()
		var err error
		claimed, err = d.store.ClaimDue(d.ctx, now, now.Add(d.cfg.ClaimLease), free, busy)
		if err != nil && d.ctx.Err() == nil {
			d.log.Warn("webhooks: claim due deliveries", slog.Any("err", err))
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight -= max(free, 0) - len(claimed)
	if d.closed {
		d.inFlight -= len(claimed)
		return
	}
	for _, dl := range claimed {
		l := d.lanes[dl.EndpointID]
		if l == nil {
			l = &lane{}
			d.lanes[dl.EndpointID] = l
		}
		l.queue = append(l.queue, dl)
		d.pumpLocked(dl.EndpointID, l)
	}
	if free > 0 && len(claimed) == free {
		d.poke() // there may be more due
	}
	if d.timerStop != nil && d.timerStop() {
		d.wg.Done()
	}
	d.wg.Add(1)
	d.timerStop = d.cfg.AfterFunc(d.cfg.PollInterval, func() {
		defer d.wg.Done()
		d.poke()
	})
}

// pumpLocked starts attempts on a lane while it has room. d.mu is held.
func (d *Dispatcher) pumpLocked(endpointID string, l *lane) {
	for l.running < d.cfg.PerEndpoint && len(l.queue) > 0 {
		dl := l.queue[0]
		l.queue = l.queue[1:]
		l.running++
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.attempt(dl)
			d.mu.Lock()
			l.running--
			d.inFlight--
			if l.running == 0 && len(l.queue) == 0 {
				delete(d.lanes, endpointID)
			} else if !d.closed {
				d.pumpLocked(endpointID, l)
			}
			d.mu.Unlock()
			d.poke() // a slot is free: there may be more due
		}()
	}
}

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
		d.poke()
	}
	return nil
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

// result is what one attempt got.
type result struct {
	status int    // HTTP status, 0 when none
	err    string // why it failed, "" on 2xx
}

// attempt sends a claimed delivery once and records the outcome.
func (d *Dispatcher) attempt(dl Delivery) {
	ep, err := d.store.GetEndpoint(d.ctx, dl.EndpointID)
	if errors.Is(err, ErrNotFound) {
		// Deleted, possibly after a node with a stale endpoint cache recorded this delivery:
		// close it, or its lease would keep bringing it back.
		ctx, cancel := contextless(d.ctx, d.cfg.AttemptTimeout)
		defer cancel()
		now := d.cfg.Now()
		a := Attempt{DeliveryID: dl.ID, N: dl.Attempts + 1, At: now, Error: "endpoint deleted"}
		o := Outcome{Status: StatusFailed, LastError: a.Error}
		err := d.store.RecordAttempt(ctx, a, o)
		if d.cfg.attempted != nil {
			d.cfg.attempted(a, o, err)
		}
		return
	}
	if err != nil {
		if d.ctx.Err() == nil {
			d.log.Warn("webhooks: read endpoint", slog.String("endpoint_id", dl.EndpointID), slog.Any("err", err))
		}
		return // the lease runs out and the delivery is claimed again
	}
	start := d.cfg.Now()
	var res result
	if ep.Disabled {
		res = result{err: "endpoint disabled: " + ep.DisabledReason}
	} else {
		res = d.send(ep, dl, start)
	}
	if d.ctx.Err() != nil {
		return // closing: this attempt was cut short; the lease hands it on
	}
	end := d.cfg.Now()
	a := Attempt{DeliveryID: dl.ID, N: dl.Attempts + 1, At: start, Duration: end.Sub(start), StatusCode: res.status, Error: res.err}
	o := Outcome{LastStatusCode: res.status, LastError: res.err}
	var st *EndpointState
	switch {
	case res.err == "":
		o.Status = StatusSucceeded
		if !ep.FailingSince.IsZero() {
			st = &EndpointState{}
		}
	case ep.Disabled:
		o.Status = StatusFailed
	case res.status == http.StatusGone:
		o.Status = StatusFailed
		st = &EndpointState{Disabled: true, DisabledReason: "the receiver answered 410 Gone", FailingSince: orNow(ep.FailingSince, start)}
	default:
		d.mu.Lock()
		next, ok := d.cfg.Schedule.Next(a.N, dl.CreatedAt, end, d.rnd)
		d.mu.Unlock()
		if ok {
			o.Status, o.NextAttemptAt = StatusPending, next
		} else {
			o.Status = StatusFailed
			o.LastError = fmt.Sprintf("gave up after %d attempts: %s", a.N, res.err)
		}
		// Persistent failure: nothing has succeeded for DisableAfter, or for the whole life of
		// a delivery that has just given up.
		since := orNow(ep.FailingSince, start)
		if end.Sub(since) >= d.cfg.DisableAfter || (!ok && !since.After(dl.CreatedAt)) {
			st = &EndpointState{Disabled: true, FailingSince: since,
				DisabledReason: "every attempt failed since " + since.UTC().Format(time.RFC3339)}
		} else if ep.FailingSince.IsZero() {
			st = &EndpointState{FailingSince: since}
		}
		d.log.Info("webhooks: attempt failed", slog.String("endpoint_id", ep.ID), slog.String("delivery_id", dl.ID),
			slog.Int("attempt", a.N), slog.Int("status", res.status), slog.String("err", res.err))
	}
	ctx, cancel := contextless(d.ctx, d.cfg.AttemptTimeout)
	defer cancel()
	err = d.store.RecordAttempt(ctx, a, o)
	if d.cfg.attempted != nil {
		defer d.cfg.attempted(a, o, err)
	}
	if err != nil {
		if !errors.Is(err, ErrStale) && !errors.Is(err, ErrNotFound) {
			d.log.Warn("webhooks: record attempt", slog.String("delivery_id", dl.ID), slog.Any("err", err))
		}
		return
	}
	if st != nil {
		if err := d.store.SetEndpointState(ctx, ep.ID, *st, end); err != nil && !errors.Is(err, ErrNotFound) {
			d.log.Warn("webhooks: endpoint state", slog.String("endpoint_id", ep.ID), slog.Any("err", err))
		}
		if st.Disabled {
			d.log.Warn("webhooks: endpoint disabled", slog.String("endpoint_id", ep.ID), slog.String("reason", st.DisabledReason))
		}
		d.forgetEndpoints()
	}
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// send makes one signed POST of the delivery's payload.
func (d *Dispatcher) send(ep Endpoint, dl Delivery, now time.Time) result {
	secret, err := openSecret(d.cfg.Sealer, ep.ID, ep.Secret)
	if err != nil {
		return result{err: err.Error()}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return result{err: "signing secret: " + err.Error()}
	}
	sig, err := wh.Sign(dl.EventID, now, dl.Payload)
	if err != nil {
		return result{err: "sign: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(dl.Payload))
	if err != nil {
		return result{err: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Allot-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, dl.EventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return result{err: describe(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return result{status: resp.StatusCode}
	}
	return result{status: resp.StatusCode, err: "HTTP " + strconv.Itoa(resp.StatusCode)}
}

// describe says why a request got no answer, without the URL (it may carry a token).
func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, ErrForbiddenTarget) {
		return "refused: " + err.Error()
	}
	return err.Error()
}
