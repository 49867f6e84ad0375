package resource

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
)

// Metrics are the resource actors' Prometheus metrics. One value serves every actor of a node;
// all methods are safe for concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	holds        prometheus.Counter
	confirms     prometheus.Counter
	cancels      prometheus.Counter
	expiries     prometheus.Counter
	rejections   *prometheus.CounterVec
	batchSize    prometheus.Histogram
	commitTime   prometheus.Histogram
	mailboxDepth prometheus.Gauge
	activations  prometheus.Counter
	fenced       prometheus.Counter
	renewals     *prometheus.CounterVec
	leaseWaits   prometheus.Histogram
	stale        prometheus.Counter
	extensions   prometheus.Counter
	waitlist     *prometheus.CounterVec // by event: joined, left, offered
	waiting      prometheus.Gauge
	active       prometheus.Gauge   // activations alive on this node (activecap.go)
	quiet        prometheus.Gauge   // of them, those whose state is packed (Config.QuietAfter)
	refusedCap   prometheus.Counter // activations refused over Config.MaxActive
	pressured    prometheus.Counter // idle activations passivated to admit one over Config.MaxActive

	// The labelled counters every command touches, resolved once: WithLabelValues hashes its
	// labels and takes the vector's lock on every call. The waitlist series come into being
	// at the first step, as they did when each step resolved them.
	waitlistOnce          sync.Once
	joined, left, offered prometheus.Counter
	rejectionsBy          sync.Map // error code -> prometheus.Counter of rejections
}

// NewMetrics creates the metrics and registers them with reg. It panics if one is already
// registered there, like prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		holds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_holds_total", Help: "Holds placed and committed.",
		}),
		confirms: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_confirms_total", Help: "Holds confirmed and committed.",
		}),
		cancels: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_cancels_total", Help: "Holds cancelled and committed.",
		}),
		expiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_expiries_total", Help: "Holds expired and committed.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_rejections_total", Help: "Commands answered with an error, by error code.",
		}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allot_batch_size", Help: "Commands per store commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1..2048
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allot_commit_seconds", Help: "Latency of store commits, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs..3.3s
		}),
		mailboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_mailbox_depth", Help: "Commands queued in mailboxes or awaiting a commit, over this node's resource actors.",
		}),
		activations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_activations_total", Help: "Successful loads of a resource actor's state (activations and reloads).",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_fenced_total", Help: "Activations stopped because a newer one owns the resource.",
		}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_lease_renewals_total", Help: "Lease renewals without a commit, by result (ok, fenced, failed).",
		}, []string{"result"}),
		leaseWaits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allot_lease_wait_seconds", Help: "Time a new activation waited for the previous activation's lease to end (activations that waited).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 4, 8},
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_stale_answers_total", Help: "Reads and sold-out refusals answered from memory, marked stale, while the lease could not be renewed.",
		}),
		extensions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_hold_extensions_total", Help: "Hold renewals by their owners, committed.",
		}),
		waitlist: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_waitlist_events_total", Help: "Waitlist entries joined, left and offered units (an offer's hold counts in allot_holds_total too), committed.",
		}, []string{"event"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_waitlist_entries", Help: "Entries waiting on the waitlists of this node's active resources, as committed.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_active_resources", Help: "Resource actors alive on this node (see --max-active-resources).",
		}),
		quiet: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_quiet_resources", Help: "Resource actors alive on this node whose booking state is packed, quiet for --quiet-after.",
		}),
		refusedCap: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_activations_refused_total", Help: "Resource activations refused 503 because this node had --max-active-resources active, none of them idle.",
		}),
		pressured: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_passivations_under_pressure_total", Help: "Idle resource actors passivated (least recently used first) to admit a new activation at --max-active-resources.",
		}),
	}
	reg.MustRegister(m.holds, m.confirms, m.cancels, m.expiries, m.rejections, m.batchSize,
		m.commitTime, m.mailboxDepth, m.activations, m.fenced, m.renewals, m.leaseWaits, m.stale,
		m.extensions, m.waitlist, m.waiting, m.active, m.quiet, m.refusedCap, m.pressured)
	return m
}

func (m *Metrics) committed(evs []booking.Event) {
	var n activation.Notes
	for _, e := range evs {
		switch e.(type) {
		case booking.HoldPlaced:
			n.Placed++
		case booking.HoldConfirmed:
			n.Confirmed++
		case booking.HoldCancelled:
			n.Cancelled++
		case booking.HoldExpired:
			n.Expired++
		case booking.HoldExtended:
			n.Extended++
		case booking.WaitlistJoined:
			n.Joined++
		case booking.WaitlistLeft:
			n.Left++
		case booking.WaitlistOffered:
			n.Offered++
		}
	}
	m.noted(n)
}

// noted records what one step of the core reports.
func (m *Metrics) noted(n activation.Notes) {
	if m == nil {
		return
	}
	m.waitlistOnce.Do(func() {
		m.joined, m.left, m.offered = m.waitlist.WithLabelValues("joined"), m.waitlist.WithLabelValues("left"), m.waitlist.WithLabelValues("offered")
	})
	for _, c := range [...]struct {
		n int
		c prometheus.Counter
	}{{n.Placed, m.holds}, {n.Confirmed, m.confirms}, {n.Cancelled, m.cancels}, {n.Expired, m.expiries},
		{n.Extended, m.extensions}, {n.Joined, m.joined}, {n.Left, m.left}, {n.Offered, m.offered}} {
		if c.n > 0 {
			c.c.Add(float64(c.n))
		}
	}
	if n.Loaded {
		m.activated()
		if n.LeaseWait > 0 {
			m.leaseWaits.Observe(n.LeaseWait.Seconds())
		}
	}
	if n.Fenced {
		m.fence()
	}
	if n.RenewalEnded {
		m.renewals.WithLabelValues(renewalResults[n.Renewed]).Inc()
	}
	if n.Stale > 0 {
		m.stale.Add(float64(n.Stale))
	}
}

var renewalResults = map[activation.Outcome]string{activation.Committed: "ok", activation.Fenced: "fenced", activation.Unknown: "failed"}

func (m *Metrics) rejected(code string) {
	if m == nil {
		return
	}
	c, ok := m.rejectionsBy.Load(code)
	if !ok {
		c, _ = m.rejectionsBy.LoadOrStore(code, m.rejections.WithLabelValues(code))
	}
	c.(prometheus.Counter).Inc()
}

func (m *Metrics) commit(size int, d time.Duration, ok bool) {
	if m == nil {
		return
	}
	m.commitTime.Observe(d.Seconds())
	if ok {
		m.batchSize.Observe(float64(size))
	}
}

func (m *Metrics) depth(delta float64) {
	if m != nil {
		m.mailboxDepth.Add(delta)
	}
}

// quieted adds delta to the quiet-resources gauge.
func (m *Metrics) quieted(delta float64) {
	if m != nil {
		m.quiet.Add(delta)
	}
}

// waitlistLength adds delta to the waitlist-length gauge.
func (m *Metrics) waitlistLength(delta float64) {
	if m != nil {
		m.waiting.Add(delta)
	}
}

func (m *Metrics) activated() {
	if m != nil {
		m.activations.Inc()
	}
}

func (m *Metrics) fence() {
	if m != nil {
		m.fenced.Inc()
	}
}
