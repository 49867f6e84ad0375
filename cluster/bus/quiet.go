package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The embedded server's streams, once quiet, let go of their last message block's subject
// index (issue 17, round 14, docs/PERFORMANCE.md).
//
// What nats-server (v2.15.3, filestore.go) does: a message block keeps an index of its subjects
// (msgBlock.fss, one leaf per subject: 48 bytes and the subject's suffix) while it is in use, and
// a timer drops it 2 minutes after the block's last read or write (SubjectStateExpire). The
// block being written keeps its file open; every SyncInterval the store syncs its blocks and
// closes the file of a block not written for 30 s (closeFDsIdle), and that close stops the
// block's timer without dropping the index (dirtyCloseWithRemove(false): clearCache only drops
// fss when the timer is set). When that sync falls between 30 s and 2 min after the stream's
// last write, which it does three times in four with the default SyncInterval of 2 min, the last
// block's index stays until the block is next loaded: for as long as the stream is quiet. Its
// leaves were made in the last seconds of the busy period, in heap spans full of that period's
// objects, and each keeps its span from being freed (round 13: ~11 MiB of the heap after every
// resource passivated came from one block's index of 2,401 subjects).
//
// What the bus does about it: once a stream has been quiet for quietAfter (past the first sync
// that can close the file), it reads the stream's last message once. The read loads the block,
// which sets its timer again (loadMsgsWithLock), and the file stays closed (a load opens and
// closes its own), so no later sync stops the timer: the index goes 2 minutes later, the loaded
// messages 10 s later. One read of one block per quiet period; nothing on a busy stream. Only
// for the embedded server: an external cluster's memory is its own, and its sync interval is
// not ours to know.

// embeddedSyncInterval is the embedded server's SyncInterval: how often JetStream flushes its
// blocks to disk in the background (fsync), and when an idle block's file is closed (above).
// nats-server's default is 2 min; 30 s bounds the writes an OS crash can lose to 30 s (a
// process crash loses none: they are in the OS's page cache) and lets quietAfter, and with it
// the subject index, go 1.5 min sooner. One fsync per written block every 30 s.
const embeddedSyncInterval = 30 * time.Second

// quietAfter is how long a stream is idle before the bus reads its last message: nats-server's
// closeFDsIdle (30 s, not exported) plus one SyncInterval (by then a sync has closed the file),
// plus a margin for the sync's own run.
const quietAfter = 30*time.Second + embeddedSyncInterval + 10*time.Second

// quietCheckEvery is how often the bus looks at its streams' last message times.
const quietCheckEvery = 10 * time.Second

// quietProbe is the pure rule of one stream: read the last message once the stream has been
// quiet for quietAfter, once per last message. The zero value has read nothing.
type quietProbe struct {
	read uint64 // the last sequence read (0: none)
}

// due reports whether the stream in state st should have its last message read at now; a
// due probe counts as done (done is not needed: a failed read is not retried, the next quiet
// period reads again).
func (q *quietProbe) due(st jetstream.StreamState, now time.Time) bool {
	if st.LastSeq == 0 || st.LastSeq == q.read || now.Sub(st.LastTime) < quietAfter {
		return false
	}
	q.read = st.LastSeq
	return true
}

// quietLoop reads each stream's last message once it has been quiet (see above) until ctx is
// done. Run by Open for the embedded server; Close cancels it and waits.
func (b *Bus) quietLoop(ctx context.Context, every time.Duration) {
	probes := map[string]*quietProbe{EventsStream: {}, DeadLetterStream: {}}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, q := range probes {
			b.probeQuiet(ctx, name, q)
		}
	}
}

// probeQuiet reads stream name's last message if q says it is due. Errors are logged at debug
// level: a missed read costs memory until the next quiet period, nothing else.
func (b *Bus) probeQuiet(ctx context.Context, name string, q *quietProbe) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		b.log.Debug("quiet stream check", "stream", name, "err", err)
		return
	}
	st := s.CachedInfo().State
	if !q.due(st, b.cfg.Now()) {
		return
	}
	if _, err := s.GetMsg(ctx, st.LastSeq); err != nil {
		b.log.Debug("quiet stream read", "stream", name, "seq", st.LastSeq, "err", err)
		return
	}
	b.quietReads.Add(1)
}
