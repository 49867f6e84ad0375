package activation

import (
	"sync"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// Input is what goes into Core.Step: a command, the result of an action the core asked for,
// a tick of the timer, or a lifecycle event. The concrete types are listed below (and
// LeaseCheckResult, handover.go); no other type implements it.
type Input interface{ input() }

// Start begins the activation: the core asks for the first load.
type Start struct{}

// Command is one command for the resource, decoded. The shell allocates it and must not
// touch it after passing it to Step; the core keeps it while the command waits and hands To
// back with the answer.
type Command struct {
	// Op is booking.CreateResource, booking.UpdateResource, booking.PlaceHold,
	// booking.ConfirmHold, booking.CancelHold, booking.ExtendHold, booking.JoinWaitlist,
	// booking.LeaveWaitlist, booking.ArchiveResource, GetResource or GetHold; nil when Err is
	// set.
	Op any
	// Err is a decoding error; it is answered once the command is admitted.
	Err error
	// Deadline is when the caller stops waiting (zero: never). A command past it is answered
	// unavailable rather than decided.
	Deadline time.Time
	// Queued is how many more commands wait behind this one (in the actor's mailbox): they
	// count toward MaxPending, and while there are any the group commit waits for them.
	Queued int
	// To is where the answer goes; the core never looks into it.
	To any

	parked bool // counted in Core.parked
	done   bool // answered
}

// GetResource and GetHold are the reads; they have no booking command.
type (
	GetResource struct{}
	GetHold     struct{ HoldID string }
)

// Outcome is how a store write ended, as the shell classifies the store's error.
type Outcome uint8

const (
	// Committed: the write applied.
	Committed Outcome = iota
	// Fenced: another activation owns the resource; nothing was written.
	Fenced
	// Unknown: the write may or may not have applied (timeout, lost connection, any other
	// error).
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Committed:
		return "committed"
	case Fenced:
		return "fenced"
	}
	return "unknown"
}

// CommitResult is the end of a Commit the core asked for.
type CommitResult struct {
	ID      uint64
	Outcome Outcome
}

// RenewalResult is the end of a Renewal the core asked for.
type RenewalResult struct {
	ID      uint64
	Outcome Outcome
}

// LoadResult is the end of a Load the core asked for: what the store has for the resource.
// On failure only ID and Failed are set.
type LoadResult struct {
	ID     uint64
	Failed bool
	// Exists is false for a resource that was never created (Epoch is then 0).
	Exists      bool
	Epoch       uint64
	Version     uint64
	Resource    booking.Resource
	Buckets     []booking.Bucket
	Holds       []booking.Hold
	Idempotency []booking.IdempotencyEntry
	Waitlist    []booking.WaitlistEntry // the waiting entries, in any order
	// LeaseUntil is the stored end of the previous activation's lease (wall clock; zero:
	// none). Nothing is answered from this load before it has passed.
	LeaseUntil time.Time
}

// LookupStatus is how a Lookup ended.
type LookupStatus uint8

const (
	LookupFound LookupStatus = iota
	LookupNotFound
	LookupFailed
)

// LookupResult is the end of a Lookup the core asked for.
type LookupResult struct {
	For    *Command
	HoldID string
	Status LookupStatus
	Hold   booking.Hold // when LookupFound
}

// Tick is a wake-up of the timer the core asked for (Ready.WakeAt). It may come early, late
// or twice: the core looks at the time, never at which timer fired.
type Tick struct {
	Queued int // commands waiting in the mailbox: an actor with work does not passivate
}

// Passivate asks the core to stop the activation if it has nothing to do (an idle timeout
// from the runtime).
type Passivate struct{ Queued int }

// Stop is a graceful stop: everything pending is committed (bounded by CommitTimeout), the
// lease is released, and whatever is left is answered unavailable. The shell keeps stepping
// the results of what the core asks for until Stopped reports true.
type Stop struct{}

// Abort drops everything: the activation's memory is suspect (a panic). Everything waiting is
// answered unavailable and nothing more is written.
type Abort struct{}

func (Start) input()         {}
func (*Command) input()      {}
func (CommitResult) input()  {}
func (RenewalResult) input() {}
func (LoadResult) input()    {}
func (LookupResult) input()  {}
func (Tick) input()          {}
func (Passivate) input()     {}
func (Stop) input()          {}
func (Abort) input()         {}

// Ready is what Step asks the shell to do, in this order: send the replies, start the store
// calls, arm the timer, stop. It belongs to the core and is valid until the next Step.
type Ready struct {
	// Replies to send now.
	Replies []Reply
	// Commits are group commits to start, in this order: the store must apply them in it
	// (each was decided on top of the ones before it, and of those already at the store).
	Commits []Commit
	// Renewal, when ID is not 0, is a lease renewal to start.
	Renewal Renewal
	// Load, when ID is not 0, is a load (store.Activate) to start.
	Load Load
	// Lookups are store reads of holds memory does not know.
	Lookups []Lookup
	// LeaseCheck, when ID is not 0, is a read of the stored lease (handover.go).
	LeaseCheck LeaseCheck
	// Release, when Requested, is the end of the lease of a stopping activation: a store
	// call to make before Step returns to the shell's stop (a failure only makes a successor
	// wait).
	Release Release
	// WakeAt is when to Tick next (zero: no timer). It replaces any earlier WakeAt.
	WakeAt time.Time
	// StopSelf asks the runtime to stop this activation once the commands already queued
	// were handled (a poison pill).
	StopSelf bool
	// Notes are for metrics and logs.
	Notes Notes

	// now is the time of the step under way (Core.Step): kept here rather than in the Core,
	// which is per active resource, where the Ready is lent (Readies).
	now time.Time
}

// Reply is one answer to send.
type Reply struct {
	To     any
	Answer Answer
}

// Answer is the content of a reply: an error, a resource, a waitlist entry, or a hold.
type Answer struct {
	Err      error         // a *booking.Error; nothing else is set
	Resource *ResourceView // set for an answer with the resource
	Entry    *EntryView    // set for an answer with a waitlist entry (join, leave)
	Hold     booking.Hold  // the answer otherwise
	Replayed bool          // the hold was placed by an earlier command with the same key
	// Stale marks an answer from memory that a lease could not confirm (the store is down).
	Stale bool
}

// ResourceView is a resource as answered: its metadata and buckets at Version.
type ResourceView struct {
	Resource booking.Resource
	Buckets  []booking.Bucket
	Version  uint64
}

// EntryView is a waitlist entry as answered: Position is its place in line (1: first) when
// the decision was made, 0 for an entry that left the waitlist.
type EntryView struct {
	Entry    booking.WaitlistEntry
	Position int
}

// Commit is one group commit: the after-images of a run of decisions, written atomically on
// condition that Epoch is current.
type Commit struct {
	ID      uint64
	Write   Write
	Timeout time.Duration
	Size    int // decisions in it, expiries included
}

// Write is what a Commit stores (persistence.Batch, field for field).
type Write struct {
	Epoch    uint64
	Version  uint64
	Create   bool
	Resource booking.Resource
	Buckets  []booking.Bucket
	Holds    []booking.Hold
	// NewHolds: Holds[:NewHolds] are holds placed by this batch's decisions, which no
	// earlier commit wrote (persistence.Batch.NewHolds).
	NewHolds    int
	Idempotency []booking.IdempotencyEntry
	// Waitlist are after-images of entries that joined; WaitlistRemoved the ids of entries
	// that stopped waiting (offered or left), removed after the upserts.
	Waitlist        []booking.WaitlistEntry
	WaitlistRemoved []string
	LeaseUntil      time.Time
	// Events are the batch's events, in decision order (see events.go): what the outbox
	// stores in the same transaction.
	Events []events.Event
}

// Renewal extends the lease of the activation at Epoch to Until, on condition that Epoch is
// current; it writes nothing else.
type Renewal struct {
	ID      uint64
	Epoch   uint64
	Until   time.Time
	Timeout time.Duration
}

// Load is a store.Activate: it fences every earlier activation and returns the state.
type Load struct {
	ID        uint64
	IdemSince time.Time // idempotency keys created before this are not needed
	Timeout   time.Duration
}

// Lookup reads one hold from the store; its result comes back as a LookupResult For the
// command.
type Lookup struct {
	For     *Command
	HoldID  string
	Timeout time.Duration
}

// Release ends the lease of the activation at Epoch (a renewal to the zero time). Fenced: it
// knows a successor fenced it, so the renewal would be refused; then, or when the renewal is
// refused (fenced), a non-zero HandOver is the lease end of its last write known to have
// applied, to hand over to that successor (store.HandOver; handover.go).
type Release struct {
	Requested bool
	Fenced    bool
	Epoch     uint64
	HandOver  time.Time
	Timeout   time.Duration
}

// Notes report what happened, for metrics and logs.
type Notes struct {
	// Committed counts the events of a successful commit.
	Placed, Confirmed, Cancelled, Expired int
	// Extended, Joined, Left and Offered count the rule events of a successful commit
	// (renewals, waitlist joins, leaves and offers; an offer's hold counts as Placed too).
	Extended, Joined, Left, Offered int
	// Loaded is set when a load was installed; LeaseWait is how long it waited for the
	// previous activation's lease (0: it did not).
	Loaded    bool
	LeaseWait time.Duration
	// Fenced is set when the activation learnt that another one owns the resource.
	Fenced bool
	// HandedOver is set with Loaded when the previous activation's lease was found ended
	// before its stored end (handed over, handover.go).
	HandedOver bool
	// Renewed is the outcome of a renewal that ended (RenewalEnded set).
	RenewalEnded bool
	Renewed      Outcome
	// Stale counts answers marked stale.
	Stale int
	// LoadFailed is set when a load failed; Backoff is then the pause before the next one
	// (0: the activation gives up).
	LoadFailed bool
	Backoff    time.Duration
}

// Readies lends Readies to the cores of many activations (Config.Readies): a Ready is 352
// bytes, with its slices' arrays on top, and a core that kept its own between steps was in
// the 768-byte allocation class instead of the 416-byte one, for every active resource,
// though most of them are idle. Safe for concurrent use.
type Readies struct{ pool sync.Pool }

// NewReadies returns an empty lender.
func NewReadies() *Readies { return &Readies{} }

// get returns a cleared Ready; a nil lender allocates one.
func (r *Readies) get() *Ready {
	if r != nil {
		if rd, ok := r.pool.Get().(*Ready); ok {
			return rd
		}
	}
	return new(Ready)
}

// put takes back a Ready that was reset: the arrays of its slices are kept for the next
// borrower, empty.
func (r *Readies) put(rd *Ready) { r.pool.Put(rd) }

// Clear drops what rd points at once the shell has acted on it: the replies' recipients
// (a request's future, with its reply, stays reachable through its PID) and answers, the
// commits and the lookups; an activation would otherwise keep its last step's output until
// its next step. With idle (nothing queued for the activation) the slices go too; otherwise
// they keep their capacity for the next step, which is likely to come soon.
func (rd *Ready) Clear(idle bool) {
	rd.reset()
	if idle {
		rd.Replies, rd.Commits, rd.Lookups = nil, nil, nil
	}
}

func (rd *Ready) reset() {
	replies, lookups, commits := rd.Replies[:0], rd.Lookups[:0], rd.Commits[:0]
	clear(rd.Replies)
	clear(rd.Lookups)
	clear(rd.Commits)
	*rd = Ready{Replies: replies, Lookups: lookups, Commits: commits}
}
