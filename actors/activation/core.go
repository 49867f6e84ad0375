package activation

import (
	"errors"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Config is the part of the resource actor's configuration the protocol needs. The
// resource package documents the fields, checks them and sets their defaults
// (resource.Config); New only refuses a configuration it cannot run with.
type Config struct {
	ResourceID       string
	MaxPending       int
	MaxBatch         int
	IdleTimeout      time.Duration
	CommitTimeout    time.Duration
	MinReloadBackoff time.Duration
	MaxReloadBackoff time.Duration
	Lease            time.Duration
	MaxClockOffset   time.Duration
	// MaxInFlight bounds the group commits at the store at once (a pipeline); 0 means 1.
	// Each is decided on top of the ones before it, so the store must apply them in the
	// order they were asked for (see groupcommit.go).
	MaxInFlight int
	// MinBehind is the least number of pending decisions sealed into a commit behind others at
	// the store: behind a commit of at most 2×MinBehind, and behind a larger one once as many
	// wait as it carries; 0: full batches only (MaxBatch, a backlog; see flush and sealBehind).
	MinBehind int
	// Readies, if set, lends the cores of many activations their Ready (Core.Done); nil: each
	// core keeps its own.
	Readies *Readies
	// QuietAfter packs the booking state of an activation that got no command for this long
	// and has nothing under way (quiet.go); 0: never.
	QuietAfter time.Duration
	// HandoverPoll is how soon a load that waits for the previous activation's lease first
	// reads the stored lease to learn whether it was handed over (handover.go); then twice as
	// long each time, up to 8×HandoverPoll. 0: it never reads it and waits for the lease end.
	HandoverPoll time.Duration
	// Origin is a reading of the shell's clock, taken once for the activations that share
	// this Config: the core keeps its clock readings as nanoseconds since it (instant.go),
	// so it should carry a monotonic reading when Step's times do. Zero: the Unix epoch
	// (wall-clock readings only, as tests' model times are).
	Origin time.Time
}

func (c Config) validate() error {
	if c.MaxInFlight < 0 || c.MinBehind < 0 || c.HandoverPoll < 0 || c.QuietAfter < 0 || c.MaxPending <= 0 || c.MaxBatch <= 0 || c.IdleTimeout <= 0 || c.CommitTimeout <= 0 ||
		c.MinReloadBackoff <= 0 || c.MaxReloadBackoff < c.MinReloadBackoff || c.Lease <= 2*c.MaxClockOffset || c.MaxClockOffset < 0 {
		return errors.New("activation: bounds, timeouts and lease must be positive, backoffs ordered, MaxClockOffset under half of Lease")
	}
	return nil
}

// Phase is where an activation is in its life.
type Phase uint8

const (
	// Loading: the first load (and the wait for the previous activation's lease) is under
	// way; commands wait for it.
	Loading Phase = iota
	// Serving: commands are decided and committed.
	Serving
	// Passivating: serving, but idle: the core asked the runtime to stop it.
	Passivating
	// Stopping: a graceful stop flushes what is pending.
	Stopping
	// Dead: fenced, or the first load failed. Everything is answered unavailable until the
	// runtime stops the activation.
	Dead
	// Stopped: nothing more happens.
	Stopped
)

var phaseNames = [...]string{"loading", "serving", "passivating", "stopping", "dead", "stopped"}

func (p Phase) String() string { return phaseNames[p] }

// Memory is what the activation knows about how its committed state relates to the store.
type Memory uint8

const (
	// Current: committed is what the store holds, as far as this activation knows.
	Current Memory = iota
	// Uncertain: a commit ended with an unknown outcome, or the store has a hold memory does
	// not: reload before the next commit.
	Uncertain
)

// Core is one activation of one resource: the protocol, without goroutines, clocks or I/O.
// It is not safe for concurrent use; the shell calls Step from one goroutine.
//
// One Core lives per active resource, so its size is memory per resource: fields are ordered
// and sized to keep it in a smaller allocation class (see the size test).
type Core struct {
	// cfg is shared by the activations of a kind (NewFor) and never written: a copy per core
	// was 96 of its 416 bytes. id is the resource's (cfg.ResourceID is not read).
	cfg    *Config
	id     string
	phase  Phase
	memory Memory
	pruned bool  // lastPrune is set
	parked int32 // commands waiting in deferred, pending, flight or lookups (at most MaxPending)

	// work is the state and the work under way (work.go); nil while the activation is quiet
	// (its state packed) between Steps, and before the first Step. Embedded: its fields read
	// as the Core's.
	*work
	// packed is committed (= spec) in its packed form while the activation is quiet, "" else;
	// a string, not a []byte: 8 bytes less in every Core.
	packed  string
	epoch   uint64
	version uint64 // of committed

	nextID uint64

	rare *rareTimes // nil until the activation first backs off, stops or looks a hold up

	// leaseEnd is when this activation's lease ends by the shell's clock (0: none);
	// ownUntil is the latest lease end it stored with a write known to have applied, a wall
	// clock time in Unix nanoseconds (0: none). Instants, not time.Times: 64 bytes less in
	// every Core (instant.go).
	leaseEnd instant
	ownUntil int64

	lastActive  instant // of the last command
	idleCheckAt instant // when to look whether the activation is idle or quiet (0: never)
	// expiryAt is the earliest deadline of a held hold, armed, in Unix nanoseconds (0: none):
	// a model time (UTC, no monotonic reading), so 16 bytes less than a time.Time, which
	// made room for packed.
	expiryAt  int64
	lastPrune int64 // when idempotency keys were last pruned, in Unix milliseconds (pruned set)

	// rd is the output of the step under way, and holds its time (Ready.now); between steps,
	// nil once the shell called Done while idle with Config.Readies set (see Readies).
	rd *Ready
}

// rareTimes are the deadlines of an activation that backs off or stops, and the commands of
// one that looks holds up: most never do, and inline they would move every Core to a larger
// allocation class.
type rareTimes struct {
	backoffUntil time.Time // zero: not backing off; writes are refused until a Tick at or after it
	stopBy       time.Time // a stopping activation gives up committing after this
	// backoff is the next pause after a failed reload or renewal; zero: Config.MinReloadBackoff
	// (see Backoff). Here, not in Core: 8 bytes less in every Core, which only the activations
	// that back off use.
	backoff time.Duration
	// lookups are the commands waiting for a store read of a hold (lookup.go); nil until the
	// first.
	lookups map[*Command]struct{}
}

// takeDeferred returns the deferred commands and forgets them.
func (c *Core) takeDeferred() []*Command {
	if c.deferred == nil {
		return nil
	}
	d := *c.deferred
	c.deferred = nil
	return d
}

// times returns the rare deadlines, allocating them on first use.
func (c *Core) times() *rareTimes {
	if c.rare == nil {
		c.rare = new(rareTimes)
	}
	return c.rare
}

// backoffUntil is when a backoff ends (zero: not backing off).
func (c *Core) backoffUntil() time.Time {
	if c.rare == nil {
		return time.Time{}
	}
	return c.rare.backoffUntil
}

// stopBy is when a stopping activation gives up committing (zero: not stopping).
func (c *Core) stopBy() time.Time {
	if c.rare == nil {
		return time.Time{}
	}
	return c.rare.stopBy
}

// New returns the core of a new activation of cfg.ResourceID, with its own copy of cfg; Step
// it a Start.
func New(cfg Config) (*Core, error) {
	cfg.MaxInFlight = max(cfg.MaxInFlight, 1)
	return NewFor(&cfg, cfg.ResourceID)
}

// NewFor returns the core of a new activation of resourceID with cfg, which the core keeps
// and reads but never writes: the activations of a kind share one Config (it is about a
// quarter of a core), so cfg must not change once a core has it. cfg.ResourceID is not read,
// and cfg.MaxInFlight must be at least 1 (New makes 0 mean 1). Step it a Start.
func NewFor(cfg *Config, resourceID string) (*Core, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.MaxInFlight < 1 {
		return nil, errors.New("activation: a shared config needs MaxInFlight of at least 1")
	}
	return &Core{cfg: cfg, id: resourceID}, nil
}

// Step feeds one input at time now and returns what to do. now is the shell's one clock;
// readings should carry a monotonic part (time.Now's do) so that a wall-clock step does not
// move a lease held in memory. The Ready is the core's and valid until the next Step.
func (c *Core) Step(now time.Time, in Input) *Ready {
	if c.rd == nil {
		c.rd = c.cfg.Readies.get()
	}
	c.rd.reset()
	c.rd.now = now
	if c.work == nil {
		// The first Step, or one of a quiet activation: the step runs on empty work, which
		// unpackFor fills and dropWorkIfQuiet drops again if the state stays packed (an
		// idle check, a stop).
		c.work = new(work)
	}
	if c.packed != "" {
		c.unpackFor(now, in)
	}
	switch in := in.(type) {
	case *Command:
		c.onCommand(now, in)
	case CommitResult:
		c.onCommitResult(now, in)
	case RenewalResult:
		if len(c.flights) == 1 && c.flights[0].id == in.ID && c.flights[0].renewal {
			c.onRenewed(now, in.Outcome)
		}
	case LoadResult:
		if c.load != nil && c.load.id == in.ID && c.load.result == nil {
			c.onLoaded(now, &in)
		}
	case LookupResult:
		c.onLookup(now, in)
	case LeaseCheckResult:
		c.onLeaseChecked(now, in) // handover.go
	case Tick:
		c.onTick(now, in.Queued)
	case Passivate:
		c.passivateIfIdle(in.Queued)
	case Start:
		c.onStart(now)
	case Stop:
		c.onStop(now)
	case Abort:
		c.failAll(errAborted) // commits at the store have an unknown outcome: not redeliverable
		c.phase = Stopped
	default:
		panic(fmt.Sprintf("activation: unknown input %T", in))
	}
	if c.phase == Stopping && len(c.flights) == 0 && c.load == nil {
		c.finishStop(now)
	}
	_, tick := in.(Tick)
	c.shareSpec(tick)
	c.rd.WakeAt = c.wakeAt()
	c.dropWorkIfQuiet()
	return c.rd
}

// Done tells the core that the shell has acted on the Ready of the last Step; idle says that
// nothing is queued for the activation. It drops what the Ready points at (see Ready.Clear),
// and when idle with Config.Readies set, lends the Ready back: an idle activation holds none.
func (c *Core) Done(idle bool) {
	switch {
	case c.rd == nil:
	case idle && c.cfg.Readies != nil:
		c.rd.reset()
		c.cfg.Readies.put(c.rd)
		c.rd = nil
	default:
		c.rd.Clear(idle)
	}
}

// shareSpec drops spec's own copy once nothing is in flight or pending: spec is then committed
// (spec = committed + in flight + pending), so the two may be one State, and an idle
// activation keeps one copy of its resource's booking state instead of two. Every change to
// spec goes through ownSpec first, which copies it again; committed changes only by the
// results of commits in flight, and there are none while the two are shared.
//
// A busy resource drains after nearly every commit and the next write copies it back, so a
// state of more than shareSpecMaxHolds holds keeps its two copies (both follow the same
// events) until a timer's Tick finds it drained: copying a hot resource's thousands of holds
// once per batch was the largest allocation of a durable hold.
func (c *Core) shareSpec(tick bool) {
	if c.committed != nil && c.spec != c.committed && len(c.flights) == 0 && len(c.pending) == 0 &&
		(tick || c.spec.HoldCount() <= shareSpecMaxHolds) {
		c.spec = c.committed
	}
}

// shareSpecMaxHolds is the largest state spec shares with committed as soon as they are equal
// (see shareSpec): copying it back is cheap, and it is the size of most resources.
const shareSpecMaxHolds = 64

// ownSpec gives spec its own copy before a change (see shareSpec).
func (c *Core) ownSpec() {
	if c.spec == c.committed {
		c.spec = c.committed.Clone()
	}
}

// Phase returns the activation's phase.
func (c *Core) Phase() Phase { return c.phase }

// Stopped reports whether a stopping activation is done: nothing more will be asked for.
func (c *Core) Stopped() bool { return c.phase == Stopped }

// Parked is the number of commands waiting for the store (the mailbox-depth gauge counts
// them with the mailbox).
func (c *Core) Parked() int { return int(c.parked) }

// Waiting is the number of entries on the committed waitlist (0 before a load): the
// waitlist-length gauge sums it over a node's activations.
func (c *Core) Waiting() int {
	if c.packed != "" {
		return packedWaiting(c.packed) // quiet (quiet.go)
	}
	if c.work == nil || c.committed == nil {
		return 0
	}
	return c.committed.WaitlistLen()
}

// Backoff is the pause before the next reload after one more failure.
func (c *Core) Backoff() time.Duration {
	if c.rare == nil || c.rare.backoff == 0 {
		return c.cfg.MinReloadBackoff
	}
	return c.rare.backoff
}

// resetBackoff makes the next pause after a failure Config.MinReloadBackoff.
func (c *Core) resetBackoff() {
	if c.rare != nil {
		c.rare.backoff = 0
	}
}

// Missing reports whether the activation has loaded and found no resource, and no creation of
// it is under way: an activation the shell may passivate as soon as it is idle, so that
// requests for ids that do not exist do not keep an actor each (issue 11).
//
// A packed (quiet) activation's resource exists (quiet.go): not missing.
func (c *Core) Missing() bool {
	return c.work != nil && c.committed != nil && !c.committed.Exists() && !c.spec.Exists()
}

// Busy reports whether a load, a store write or decisions are under way.
func (c *Core) Busy() bool {
	return c.work != nil && (c.load != nil || len(c.flights) > 0 || len(c.pending) > 0)
}

// Answers for the retryable failures. Messages are for humans; codes are the contract.
var (
	errNotCommitted = booking.Errorf(booking.CodeUnavailable, "the store did not confirm the change; retry")
	errStoreDown    = booking.Errorf(booking.CodeUnavailable, "the store is unavailable; retry later")
	errMoved        = booking.Errorf(booking.CodeUnavailable, "the resource moved to another activation; retry")
	errStopped      = booking.Errorf(booking.CodeUnavailable, "the resource actor stopped; retry")
	errAborted      = booking.Errorf(booking.CodeUnavailable, "the resource actor failed; retry")
	errDeadline     = booking.Errorf(booking.CodeUnavailable, "the deadline passed before the command was decided")
	errStoreAhead   = booking.Errorf(booking.CodeUnavailable, "the hold is being reloaded; retry")
)

// ErrStopped is the answer to commands that reach a stopped activation.
var ErrStopped = errStopped

// Redeliverable reports whether err answers a command this activation did not decide because
// it is gone (stopped, passivated, fenced, moved): nothing of the command reached the store,
// so the sender may deliver it again, to the resource's current activation.
func Redeliverable(err error) bool { return err == errMoved || err == errStopped }

func (c *Core) onStart(now time.Time) {
	c.lastActive = c.at(now)
	c.idleCheckAt = c.at(now.Add(c.nextIdleCheck(c.cfg.IdleTimeout, 0)))
	if c.id == "" {
		c.die()
		return
	}
	c.startLoad(now)
}

// loaded reports whether the state was loaded: it is in committed, or packed (quiet.go).
func (c *Core) loaded() bool { return c.packed != "" || c.committed != nil }

func (c *Core) alive() bool { return c.phase != Dead && c.phase != Stopped }

// die stops the activation for good: fenced, or no state to serve from. Everything waiting
// is answered unavailable (retryable: the next request re-activates), and the runtime is asked
// to stop it, after the commands already queued (which are answered unavailable too).
func (c *Core) die() {
	was := c.phase
	c.phase = Dead
	c.failAll(errMoved)
	if c.rd.Notes.Fenced {
		c.handOver() // handover.go: after the last answer from memory
	}
	switch was {
	case Stopping:
		c.phase = Stopped // the runtime is stopping it already
	case Passivating:
		// asked to stop already
	default:
		c.rd.StopSelf = true
	}
}

// passivateIfIdle asks the runtime to stop an activation with nothing to do; it reports
// whether it did.
func (c *Core) passivateIfIdle(queued int) bool {
	if c.Busy() || c.parked > 0 || queued > 0 {
		return false
	}
	if c.phase == Loading || c.phase == Serving {
		c.phase = Passivating
		c.rd.StopSelf = true
	}
	return true
}

// failAll answers every waiting command with err.
func (c *Core) failAll(err error) {
	flights := c.flights
	c.flights = nil
	for _, f := range flights {
		c.failDecisions(f.decisions, err)
	}
	c.failDecisions(c.pending, err)
	c.pending = nil
	for _, r := range c.takeDeferred() {
		c.fail(r, err)
	}
	if c.rare != nil {
		for r := range c.rare.lookups {
			c.fail(r, err)
		}
		clear(c.rare.lookups)
	}
}

func (c *Core) failDecisions(ds []*decision, err error) {
	for _, d := range ds {
		if d.cmd != nil {
			c.fail(d.cmd, err)
		}
	}
}

// park counts r as waiting (admission and the mailbox-depth gauge).
func (c *Core) park(r *Command) {
	if !r.parked {
		r.parked = true
		c.parked++
	}
}

// send answers r once; later answers are dropped.
func (c *Core) send(r *Command, a Answer) {
	if r.done {
		return
	}
	r.done = true
	if r.parked {
		r.parked = false
		c.parked--
	}
	c.rd.Replies = append(c.rd.Replies, Reply{To: r.To, Answer: a})
}

func (c *Core) fail(r *Command, err error) { c.send(r, Answer{Err: err}) }

func expired(r *Command, now time.Time) bool {
	return !r.Deadline.IsZero() && now.After(r.Deadline)
}

// ms is now at the stores' millisecond precision, in UTC: the time of the booking model.
func ms(now time.Time) time.Time { return time.UnixMilli(now.UnixMilli()).UTC() }
