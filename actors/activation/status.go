package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// Status is a view of the core's internals for tests and debugging.
type Status struct {
	Phase            Phase
	Memory           Memory
	BackingOff       bool
	Leased           bool // at the time given to Status
	Parked           int
	Pending          int // decisions not yet sealed
	InFlight         int // decisions in the commits or the renewal at the store
	Commits          int // commits at the store (at most MaxInFlight)
	Loading          bool
	Epoch, Version   uint64
	ExpiryAt         time.Time      // the hold deadline the core will wake up for
	Committed, Spec  *booking.State // clones; nil before loading
	LeaseEnd, WakeAt time.Time
}

// Status returns a view of the internals at time now.
func (c *Core) Status(now time.Time) Status {
	if c.work == nil { // quiet, or before the first Step (work.go): the view of empty work
		c.work = new(work)
		defer func() { c.work = nil }()
	}
	s := Status{
		Phase: c.phase, Memory: c.memory, BackingOff: c.backingOff(), Leased: c.leasedAt(now),
		Parked: int(c.parked), Pending: len(c.pending), Loading: c.load != nil, Epoch: c.epoch, Version: c.version,
		ExpiryAt: c.expiryTime(), LeaseEnd: c.time(c.leaseEnd), WakeAt: c.wakeAt(),
	}
	for _, f := range c.flights {
		s.InFlight += len(f.decisions)
		if !f.renewal {
			s.Commits++
		}
	}
	if c.committed != nil {
		s.Committed, s.Spec = c.committed.Clone(), c.spec.Clone()
	} else if c.packed != "" {
		if st, err := booking.Unpack(c.id, packedState(c.packed)); err == nil {
			s.Committed, s.Spec = st, st.Clone()
		}
	}
	return s
}
