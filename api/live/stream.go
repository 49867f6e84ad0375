package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-contrib/sse"
	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/mount"
)

// StreamConfig configures the SSE routes. Zero optional fields take DefaultStreamConfig's.
type StreamConfig struct {
	// Hub and Reader serve the availability stream; Users serves /v1/me/events. Required.
	Hub    *Hub
	Reader AvailabilityReader
	Users  *UserFeed
	// Fail answers a request that fails before its stream begins (api's problem writer).
	// Required.
	Fail func(c *gin.Context, err error)
	// Subject returns the signed-in caller's user id, "" for none (api.PrincipalOf(c).Subject).
	// Required.
	Subject func(c *gin.Context) string
	// AfterFunc is the clock of heartbeats (see HubConfig). Write deadlines are on the real
	// clock: the network knows no other.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Heartbeat is the quiet time after which a comment line is sent, so that proxies keep
	// the connection and a dead client is noticed. Default 15s.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a client; a client that does not take an update in
	// time loses its stream. Default 5s.
	WriteTimeout time.Duration
	// Retry is the reconnection delay suggested to clients. Default 2s.
	Retry time.Duration
}

// DefaultStreamConfig returns the defaults; set Hub, Reader, Users, Fail and Subject.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		AfterFunc:    func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
		Heartbeat:    15 * time.Second,
		WriteTimeout: 5 * time.Second,
		Retry:        2 * time.Second,
	}
}

// Streams serves the SSE routes. Create it with NewStreams.
type Streams struct{ cfg StreamConfig }

// NewStreams checks cfg and fills its defaults.
func NewStreams(cfg StreamConfig) (*Streams, error) {
	d := DefaultStreamConfig()
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = d.AfterFunc
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = d.Heartbeat
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.Retry == 0 {
		cfg.Retry = d.Retry
	}
	if cfg.Hub == nil || cfg.Reader == nil || cfg.Users == nil || cfg.Fail == nil || cfg.Subject == nil {
		return nil, errors.New("live stream config: Hub, Reader, Users, Fail and Subject are required")
	}
	if cfg.Heartbeat < 0 || cfg.WriteTimeout < 0 || cfg.Retry < 0 {
		return nil, errors.New("live stream config: durations must be positive")
	}
	return &Streams{cfg: cfg}, nil
}

// Routes are the SSE routes with their policies.
func (s *Streams) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodGet, Path: "/v1/resources/:rid/availability/stream", Policy: auth.Public, Handler: s.availability},
		{Method: http.MethodGet, Path: "/v1/me/events", Policy: auth.Customer, Handler: s.myEvents},
	}
}

// stream writes SSE events to one client, each write under its own deadline.
type stream struct {
	c    *gin.Context
	rc   *http.ResponseController
	cfg  *StreamConfig
	beat chan struct{}
	stop func() bool
	buf  bytes.Buffer
}

func (s *Streams) begin(c *gin.Context) *stream {
	h := c.Writer.Header()
	h.Set("Content-Type", sse.ContentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
	return &stream{c: c, rc: http.NewResponseController(c.Writer), cfg: &s.cfg, beat: make(chan struct{}, 1)}
}

// arm (re)starts the heartbeat timer.
func (st *stream) arm() {
	if st.stop != nil {
		st.stop()
	}
	st.stop = st.cfg.AfterFunc(st.cfg.Heartbeat, func() {
		select {
		case st.beat <- struct{}{}:
		default:
		}
	})
}

func (st *stream) end() {
	if st.stop != nil {
		st.stop()
	}
}

// send writes one event and flushes it.
func (st *stream) send(ev sse.Event) error {
	st.buf.Reset()
	if err := sse.Encode(&st.buf, ev); err != nil {
		return err
	}
	return st.write()
}

// sendRaw writes lines that are not an event: a comment or the retry field.
func (st *stream) sendRaw(s string) error {
	st.buf.Reset()
	st.buf.WriteString(s)
	return st.write()
}

// write writes the buffer under a fresh deadline and flushes it. The heartbeat restarts
// first, so that once a client has read a write, its heartbeat timer is armed.
func (st *stream) write() error {
	st.arm()
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.cfg.WriteTimeout))
	if _, err := st.c.Writer.Write(st.buf.Bytes()); err != nil {
		return err
	}
	return st.rc.Flush()
}

// GET /v1/resources/:rid/availability/stream
//
// Events: "availability" with id = the resource's version and data = wire.Availability.
// The first is the availability on connect, unless Last-Event-ID names that version or a
// later one (the client is up to date); then one per change, at most one per Hub interval.
func (s *Streams) availability(c *gin.Context) {
	rid := c.Param("rid")
	if !booking.ValidID(rid) {
		s.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "resource id is not valid"))
		return
	}
	var seen uint64
	if v := c.GetHeader("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.cfg.Fail(c, booking.Errorf(booking.CodeMalformed, "Last-Event-ID must be a resource version"))
			return
		}
		seen = n
	}
	w, err := s.cfg.Hub.Watch(rid) // before the read: no change falls between
	if err != nil {
		s.cfg.Fail(c, booking.Errorf(booking.CodeUnavailable, "shutting down"))
		return
	}
	defer w.Stop()
	snap, err := s.cfg.Reader.ReadAvailability(c.Request.Context(), rid)
	if err != nil {
		s.cfg.Fail(c, err)
		return
	}
	st := s.begin(c)
	defer st.end()
	if err := st.sendRaw(retryField(s.cfg.Retry)); err != nil || c.Request.Method == http.MethodHead {
		return
	}
	sendSnap := func(sn Snapshot) error {
		if sn.Version <= seen {
			return nil
		}
		body, err := json.Marshal(sn.Availability)
		if err != nil {
			return err
		}
		seen = sn.Version
		return st.send(sse.Event{Id: strconv.FormatUint(sn.Version, 10), Event: "availability", Data: body})
	}
	if sendSnap(snap) != nil {
		return
	}
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case sn, ok := <-w.Updates():
			if !ok {
				return // dropped as too slow, or shutting down: the client reconnects
			}
			if sendSnap(sn) != nil {
				return
			}
		case <-st.beat:
			if st.sendRaw(": heartbeat\n\n") != nil {
				return
			}
		}
	}
}

// GET /v1/me/events
//
// Events: named by the event type, with id = the event id and data = the event (feed.Event's
// JSON). There is no replay: after a reconnect, GET /v1/users/{uid}/holds gives the state.
func (s *Streams) myEvents(c *gin.Context) {
	sub := s.cfg.Subject(c)
	if sub == "" {
		s.cfg.Fail(c, booking.Errorf(booking.CodeUnauthenticated, "sign in to follow your events"))
		return
	}
	w := s.cfg.Users.Watch(sub)
	if w == nil {
		s.cfg.Fail(c, booking.Errorf(booking.CodeUnavailable, "shutting down"))
		return
	}
	defer w.Stop()
	st := s.begin(c)
	defer st.end()
	if err := st.sendRaw(retryField(s.cfg.Retry)); err != nil || c.Request.Method == http.MethodHead {
		return
	}
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case ev, ok := <-w.Events():
			if !ok {
				return
			}
			if sendEvent(st, ev) != nil {
				return
			}
		case <-st.beat:
			if st.sendRaw(": heartbeat\n\n") != nil {
				return
			}
		}
	}
}

func sendEvent(st *stream, ev feed.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return st.send(sse.Event{Id: ev.ID, Event: ev.Type, Data: body})
}

// retryField is the SSE block that sets the client's reconnection delay.
func retryField(d time.Duration) string {
	return "retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n"
}
