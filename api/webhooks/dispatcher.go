package webhooks

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
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
)

// maxAnswerBytes bounds what is read of a receiver's answer (then discarded), so that the
// connection can be reused without letting a receiver stream forever.
const maxAnswerBytes = 64 << 10

// Dispatcher turns events into signed deliveries. HandleBatch (or Handle) is its event
// consumer; a scheduler goroutine claims due deliveries from the Store and sends them. Create
// it with NewDispatcher; Close stops it. All methods are safe for concurrent use.
//
// Invariants: at most MaxInFlight deliveries claimed and unfinished (not yet recorded) on
// this node, at most PerEndpoint of them being sent to one endpoint; every goroutine it
// starts has ended when Close returns.
//
// Store writes come in batches (docs/EVENTS.md, Cost): a fetch of events is one transaction
// (HandleBatch), whose fresh deliveries go straight to their lanes, claimed as they are
// stored; the attempts that ended while the last batch was written are recorded together
// (record.go); and the store is asked for due deliveries only when some may be waiting
// (retries, and what did not fit in the lanes), not after every attempt.
type Dispatcher struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	guard  *guard
	client *http.Client
	met    *metrics

	ctx    context.Context // ends at Close: aborts attempts in flight
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: a poll is wanted
	stop   chan struct{}
	wg     sync.WaitGroup // the scheduler, its timer and the recorder
	sends  sync.WaitGroup // attempts in flight
	once   sync.Once

	recWake chan struct{} // capacity 1: attempts wait to be recorded
	recStop chan struct{} // closed once no attempt is in flight any more: the recorder ends

	mu        sync.Mutex
	closed    bool
	inFlight  int
	lanes     map[string]*lane // by endpoint id
	rnd       *rand.Rand
	timerStop func() bool
	cache     []Endpoint
	cachedAt  time.Time
	cacheOK   bool
	signers   map[string]signer // by endpoint id
	// records are the attempts ended and not yet recorded, in the order they ended.
	records []pendingRecord
	// due: deliveries may be due in the store that no claim has taken yet (a claim filled
	// its batch, or stored deliveries did not fit in the lanes). A freed slot then asks for a
	// poll at once; otherwise the next poll is the timer's.
	due bool
	// dueBusy: the last claim skipped these endpoints as busy and took everything else due, so
	// what may still be due is theirs. A poll is wanted again only once one of their lanes
	// has room (pollWantedLocked): each poll that skips an endpoint reads past all its due
	// deliveries, and under load that is the whole backlog.
	dueBusy []string
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
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	d := &Dispatcher{cfg: cfg, store: cfg.Store, log: cfg.Logger, met: met,
		guard: newGuard(cfg.AllowPrivate, cfg.Resolver, cfg.AttemptTimeout),
		wake:  make(chan struct{}, 1), stop: make(chan struct{}), lanes: map[string]*lane{}, signers: map[string]signer{},
		recWake: make(chan struct{}, 1), recStop: make(chan struct{}),
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
	d.wg.Add(2)
	go d.run()
	go d.recordLoop()
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
		d.sends.Wait() // no new record after this
		close(d.recStop)
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

// claimRounds bounds one claim to claimRounds*PerEndpoint deliveries, so that one endpoint's
// backlog cannot fill every slot at once and a claimed delivery waits in its lane for at
// most a few rounds of attempts of its endpoint (well within ClaimLease; see
// Config.validate). A claim is a write transaction (on SQLite, the file's write lock and a
// WAL sync), so it takes a few rounds at once: one round (16) made the claims 6 to 7% of a
// node's CPU while a backlog drained.
const claimRounds = 4

// laneRounds bounds what HandleBatch queues on a lane: laneRounds*PerEndpoint deliveries,
// that many rounds of attempts, so that a busy endpoint's queue is refilled by the intake
// (a transaction per fetch) rather than by claims of claimRounds*PerEndpoint (a transaction each), and a
// queued delivery is sent well within ClaimLease (Config.validate).
const laneRounds = 8

// poll claims what fits in the free slots, skipping endpoints whose lane already has a
// batch waiting, queues the deliveries on their endpoints' lanes and arms the next poll. A
// full batch asks for another poll at once.
func (d *Dispatcher) poll() {
	d.mu.Lock()
	free := min(d.cfg.MaxInFlight-d.inFlight, claimRounds*d.cfg.PerEndpoint)
	d.inFlight += max(free, 0) // reserved while claiming
	var busy []string
	for id, l := range d.lanes {
		if len(l.queue) >= d.cfg.PerEndpoint {
			busy = append(busy, id)
		}
	}
	d.mu.Unlock()

	var claimed []Delivery
	// The next poll is due PollInterval after this one looked (now), not after it finished:
	// a slow claim must not push every later poll back, and (with a test's clock) a clock
	// moved past now+PollInterval during the claim fires the next poll at once.
	now := d.cfg.Now()
	if free > 0 {
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
		d.queueLocked(dl)
	}
	if free > 0 {
		// A full batch may have left more due, and so may the endpoints skipped as busy; else
		// the claim took all (until retries come due or HandleBatch stores what does not fit,
		// which sets due again).
		d.due = len(claimed) == free
		d.dueBusy = nil
		if !d.due && len(busy) > 0 {
			d.dueBusy = busy
		}
		if len(claimed) == free {
			d.poke() // at once; a busy lane asks again when it has room
		}
	}
	if d.timerStop != nil && d.timerStop() {
		d.wg.Done()
	}
	d.wg.Add(1)
	d.timerStop = d.cfg.AfterFunc(max(now.Add(d.cfg.PollInterval).Sub(d.cfg.Now()), 0), func() {
		defer d.wg.Done()
		d.poke()
	})
}

// pollWantedLocked says whether a freed slot should ask for a poll at once: more may be due
// for an endpoint the last claim did not skip, or a skipped endpoint's lane has room now.
// d.mu is held.
func (d *Dispatcher) pollWantedLocked() bool {
	if d.closed {
		return false
	}
	if d.due {
		return true
	}
	for _, id := range d.dueBusy {
		if l := d.lanes[id]; l == nil || len(l.queue) < d.cfg.PerEndpoint {
			return true
		}
	}
	return false
}

// queueLocked queues a claimed delivery on its endpoint's lane and starts what fits. d.mu is
// held, and dl counts in inFlight.
func (d *Dispatcher) queueLocked(dl Delivery) {
	l := d.lanes[dl.EndpointID]
	if l == nil {
		l = &lane{}
		d.lanes[dl.EndpointID] = l
	}
	l.queue = append(l.queue, dl)
	d.pumpLocked(dl.EndpointID, l)
}

// pumpLocked starts attempts on a lane while it has room. d.mu is held. An attempt's lane
// place is free once it is sent; its inFlight slot once it is recorded (record.go).
func (d *Dispatcher) pumpLocked(endpointID string, l *lane) {
	for l.running < d.cfg.PerEndpoint && len(l.queue) > 0 {
		dl := l.queue[0]
		l.queue = l.queue[1:]
		l.running++
		d.sends.Add(1)
		go func() {
			defer d.sends.Done()
			rec := d.attempt(dl)
			d.mu.Lock()
			l.running--
			if rec != nil {
				d.records = append(d.records, *rec)
			} else {
				d.inFlight--
			}
			if l.running == 0 && len(l.queue) == 0 {
				delete(d.lanes, endpointID)
			} else if !d.closed {
				d.pumpLocked(endpointID, l)
			}
			// A poll is asked for as soon as this lane has room for what waits in the store,
			// not only once the attempt is recorded (up to RecordInterval later): waiting for
			// the record capped a backlog stored behind a busy lane at one claim of
			// claimRounds*PerEndpoint per RecordInterval (640 deliveries/s by default, while
			// the node sat idle; docs/EVENTS.md, Cost). The claim needs a free slot: an
			// attempt's slot is free once it is recorded.
			due := d.pollWantedLocked() && d.inFlight < d.cfg.MaxInFlight
			d.mu.Unlock()
			if rec != nil {
				select {
				case d.recWake <- struct{}{}:
				default:
				}
			}
			if due {
				d.poke() // a slot is free and more may be due
			}
		}()
	}
}

// result is what one attempt got.
type result struct {
	status int    // HTTP status, 0 when none
	err    string // why it failed, "" on 2xx
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// signer returns the endpoint's signer, opened once per stored secret (unsealing it is an
// AES-GCM open per attempt otherwise, and keying an HMAC two SHA-256 blocks); a new secret
// (rekey.go) opens a new one.
func (d *Dispatcher) signer(ep Endpoint) (*hmacSigner, error) {
	d.mu.Lock()
	sg, ok := d.signers[ep.ID]
	d.mu.Unlock()
	if ok && sg.stored == ep.Secret {
		return sg.hs, nil
	}
	secret, err := openSecret(d.cfg.Sealer, ep.ID, ep.Secret)
	if err != nil {
		return nil, err
	}
	hs, err := newHMACSigner(secret)
	if err != nil {
		return nil, fmt.Errorf("signing secret: %w", err)
	}
	d.mu.Lock()
	d.signers[ep.ID] = signer{stored: ep.Secret, hs: hs}
	d.mu.Unlock()
	return hs, nil
}

// signer is an endpoint's opened signing secret and the stored form it was opened from.
type signer struct {
	stored string
	hs     *hmacSigner
}

// send makes one signed POST of the delivery's payload.
func (d *Dispatcher) send(ep Endpoint, dl Delivery, now time.Time) result {
	hs, err := d.signer(ep)
	if err != nil {
		return result{err: err.Error()}
	}
	sig := hs.sign(dl.EventID, now, dl.Payload)
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
