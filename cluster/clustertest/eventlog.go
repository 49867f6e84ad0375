package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/cluster/bus"
)

// Change is one hold change as a client knows it: the hold and the event type its change
// publishes (hold.placed, hold.confirmed, hold.cancelled).
type Change struct {
	Hold string
	Type events.Type
}

// StreamLog is the events stream as read from its start: the first copy of each event in
// stream order, and how many copies of each the stream stores.
type StreamLog struct {
	Records []events.Record
	Copies  map[string]int
}

// ReadStream reads the events stream (bus.EventsStream) of the NATS cluster at natsURL from its
// first message, through a direct connection as any consumer would, until it has read every
// message the stream held when the read began and done(log) is true, or until ctx ends. A nil
// done stops at the messages stored when the read began.
func ReadStream(ctx context.Context, natsURL string, done func(*StreamLog) bool) (*StreamLog, error) {
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("read stream: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	st, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	last := info.State.LastSeq
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	log := &StreamLog{Copies: map[string]int{}}
	var seq uint64
	for seq < last || (done != nil && !done(log)) {
		if ctx.Err() != nil {
			return log, fmt.Errorf("read stream: %d of %d messages read: %w", seq, last, ctx.Err())
		}
		batch, err := cons.Fetch(512, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			continue // a reconnect: the ordered consumer resumes after the last sequence it delivered
		}
		for msg := range batch.Messages() {
			md, err := msg.Metadata()
			if err != nil {
				return log, fmt.Errorf("read stream: %w", err)
			}
			seq = md.Sequence.Stream
			var rec events.Record
			if err := json.Unmarshal(msg.Data(), &rec); err != nil {
				return log, fmt.Errorf("read stream: message %d: %w", seq, err)
			}
			if id := msg.Headers().Get(jetstream.MsgIDHeader); id != rec.ID || msg.Subject() != events.Subject(rec.Type, rec.ResourceID) {
				return log, fmt.Errorf("read stream: event %s on subject %s with Nats-Msg-Id %q", rec.ID, msg.Subject(), id)
			}
			if log.Copies[rec.ID]++; log.Copies[rec.ID] == 1 {
				log.Records = append(log.Records, rec)
			}
		}
		// batch.Error() is nil, or a timeout with nothing new yet, or a reconnect: go on.
	}
	return log, nil
}

// Has reports whether the log holds every change of want.
func (l *StreamLog) Has(want map[Change]bool) bool {
	seen := l.Changes()
	for ch := range want {
		if !seen[ch] {
			return false
		}
	}
	return true
}

// Changes returns the hold changes the log's hold.placed, hold.confirmed and hold.cancelled
// events record.
func (l *StreamLog) Changes() map[Change]bool {
	out := map[Change]bool{}
	for _, rec := range l.Records {
		switch rec.Type {
		case events.HoldPlaced, events.HoldConfirmed, events.HoldCancelled:
			var h events.HoldData
			if json.Unmarshal(rec.Data, &h) == nil {
				out[Change{h.ID, rec.Type}] = true
			}
		}
	}
	return out
}

// EventProblems checks the log against what clients saw: every acknowledged change has its
// event; a hold change with an event was acknowledged or possibly happened (maybe: an
// unknown outcome, or a change the harness does not track; nil skips this check); every event
// is stored once (the relay's republishes were deduplicated); and each resource's events come
// in (version, index) order. committed, when not nil, is the outbox's log (EventLog): every
// committed event must be on the stream, and nothing else. It returns one line per problem,
// at most limit of each kind.
func (l *StreamLog) EventProblems(acked, maybe map[Change]bool, committed []events.Record, limit int) []string {
	var out []string
	count := map[string]int{}
	add := func(kind, format string, args ...any) {
		if count[kind]++; count[kind] <= limit {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	seen := l.Changes()
	for _, ch := range sortedChanges(acked) {
		if !seen[ch] {
			add("lost", "acknowledged %s of hold %s has no event", ch.Type, ch.Hold)
		}
	}
	if maybe != nil {
		for _, ch := range sortedChanges(seen) {
			if !acked[ch] && !maybe[ch] {
				add("phantom", "event %s of hold %s for a change that did not happen", ch.Type, ch.Hold)
			}
		}
	}
	for _, rec := range l.Records {
		if n := l.Copies[rec.ID]; n > 1 {
			add("dup", "event %s stored %d times", rec.ID, n)
		}
	}
	last := map[string]events.Record{}
	for _, rec := range l.Records {
		if p, ok := last[rec.ResourceID]; ok && (rec.Version < p.Version || rec.Version == p.Version && rec.Index <= p.Index) {
			add("order", "%s: event %d/%d after %d/%d in the stream", rec.ResourceID, rec.Version, rec.Index, p.Version, p.Index)
		}
		last[rec.ResourceID] = rec
	}
	if committed != nil {
		inLog := map[string]bool{}
		for _, rec := range committed {
			inLog[rec.ID] = true
			if l.Copies[rec.ID] == 0 {
				add("unpublished", "committed event %s (%s) is not on the stream", rec.ID, rec.Type)
			}
		}
		for _, rec := range l.Records {
			if !inLog[rec.ID] {
				add("uncommitted", "event %s (%s) on the stream was never committed", rec.ID, rec.Type)
			}
		}
	}
	for kind, n := range count {
		if n > limit {
			out = append(out, fmt.Sprintf("... and %d more of kind %s", n-limit, kind))
		}
	}
	return out
}

func sortedChanges(m map[Change]bool) []Change {
	out := make([]Change, 0, len(m))
	for ch := range m {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Hold != out[j].Hold {
			return out[i].Hold < out[j].Hold
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// EventLog reads the whole outbox through GET /v1/events (operators) of the node at base,
// page by page: the events the cluster committed.
func (c *Client) EventLog(ctx context.Context, base string) ([]events.Record, error) {
	var out []events.Record
	after := ""
	for {
		u := base + "/v1/events?limit=500"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		r, err := c.Do(ctx, "GET", u, "", nil)
		if err != nil {
			return nil, fmt.Errorf("event log: %w", err)
		}
		if r.Status != 200 {
			return nil, fmt.Errorf("event log: %d %s", r.Status, r.Body)
		}
		var page struct {
			Data       []events.Record `json:"data"`
			HasMore    bool            `json:"has_more"`
			NextCursor string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("event log: %w", err)
		}
		out = append(out, page.Data...)
		if !page.HasMore || page.NextCursor == "" {
			return out, nil
		}
		after = page.NextCursor
	}
}
