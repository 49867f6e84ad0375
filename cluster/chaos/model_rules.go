package chaos

// The booking rules in the model: renewals and waitlists.
//
//	extend(key)             held, renewed fewer than MaxExtensions times: ok, one more renewal
//	                        held, renewed MaxExtensions times: limit_exceeded
//	                        confirmed or cancelled: conflict (holds never expire in a run)
//	extend(key, rkey)       rkey applied before: ok (a replay, nothing changes); otherwise as
//	                        extend(key), an ok recording rkey as applied
//	join(key, buckets, q)   absent, the user has no entry waiting, and the request does not
//	                        fit what is free: ok, the entry waits at the end of the line (its
//	                        hold is key's); otherwise (it fits, or an entry exists): conflict
//	leave(key)              waiting: ok, left; otherwise: not_found (offered, or left)
//	cancel(key)             as before, then the freed units are offered: the waiting entries,
//	                        in the order they joined, each that fits what is free at that
//	                        point becomes its hold, held, and leaves the line (first fit)
//	get(key) of an entry    not_found while it waits (or after it left), else its hold's status
//
// Leaves, and renewals without one, carry no Idempotency-Key: a request retried after an
// attempt without a definite answer may have been applied twice (compile adds the earlier
// attempt as an operation of its own, see retriedTwice). A renewal with one (Op.RenewKey,
// rkey) is one operation whatever its attempts, and ops sharing rkey are one renewal: the
// key's slot (input.renewSlot) makes it count at most once against max_extensions; once it
// applied, a renewal of another hold with it (the key reused for a different request,
// input.keyHold) is refused idempotency_mismatch and changes nothing. A join carries one (its Key, Op.Keyed), as a hold does: its attempts are one operation, a retry answered ok names the entry the first attempt
// to apply made (waiting or offered), and a refusal that answered a retry may be followed by
// the earlier attempt joining, as the same entry (compile, refusedWithKey). A join without a
// key (a history from before joins took one) may have made a second entry of the same user
// (the server chooses each attempt's entry id): the earlier attempt gets a hold slot of its
// own, which waits and is offered like any entry but is never left, got or renewed, since the
// client never learns its id.

// waiter is an entry of the waitlist in the model state: the hold it will be offered as, its
// buckets (a bit per bucket index) and quantity.
type waiter struct {
	hold    int
	buckets uint8
	qty     int64
}

// DefaultMaxExtensions is the server's max_extensions of a resource created without one.
const DefaultMaxExtensions = 2

// retriedTwice reports whether a retry of kind after an uncertain attempt is a second
// request (no Idempotency-Key) on the same hold, so that the earlier attempt may apply on
// its own (joins take a key; a keyless join's earlier attempts are entries of their own:
// see compile).
func retriedTwice(k Kind) bool { return k == KindExtend || k == KindLeave }

func (spec *ResourceSpec) maxExtensions() int {
	if spec.MaxExtensions == 0 {
		return DefaultMaxExtensions
	}
	return spec.MaxExtensions
}

// stepRules is step for extend, join and leave; st is the status of in's hold.
func stepRules(s state, in *input, st byte) (bool, state) {
	op := in.op
	switch op.Kind {
	case KindExtend:
		if in.renewSlot >= 0 && s.status(in.renewSlot) != stAbsent {
			if in.keyHold != in.hold {
				// The key renewed another hold: this is the key reused for a different
				// request, refused, and it changes nothing.
				return op.Result == ResultMismatch || op.Result == ResultUnknown, s
			}
			// The key was applied: a replay, ok whatever the hold's status now, never a
			// second renewal (the key is looked up before the hold).
			return op.Result == ResultOK || op.Result == ResultUnknown, s
		}
		renewable := st == stHeld && s.renewals(in.hold) < in.spec.maxExtensions()
		renew := func() state {
			s := s.withByte(in.hold, byte(s.renewals(in.hold)+1)<<statusBits|stHeld)
			if in.renewSlot >= 0 {
				s = s.with(in.renewSlot, stHeld)
			}
			return s
		}
		switch op.Result {
		case ResultOK:
			return renewable, renew()
		case ResultLimit:
			return st == stHeld && !renewable, s
		case ResultConflict:
			return st == stConfirmed || st == stCancelled, s
		case ResultUnknown:
			if renewable {
				return true, renew()
			}
			return true, s
		}
	case KindJoin:
		joinable := st == stAbsent && !in.userWaits(s) && !in.fits(s)
		switch op.Result {
		case ResultOK:
			return joinable, in.join(s)
		case ResultConflict:
			return !joinable, s
		case ResultUnknown:
			if joinable {
				return true, in.join(s)
			}
			return true, s
		}
	case KindLeave:
		switch op.Result {
		case ResultOK:
			return st == stWaiting, in.leave(s)
		case ResultNotFound:
			return st != stWaiting, s
		case ResultUnknown:
			if st == stWaiting {
				return true, in.leave(s)
			}
			return true, s
		}
	}
	return false, s
}

// userWaits reports whether another entry of in's user waits (see input.sameUser).
func (in *input) userWaits(s state) bool {
	for _, i := range in.sameUser {
		if s.status(i) == stWaiting {
			return true
		}
	}
	return false
}

// join puts in's entry at the end of the line.
func (in *input) join(s state) state {
	w := waiter{hold: in.hold, qty: in.op.Qty}
	for _, b := range in.buckets {
		w.buckets |= 1 << b
	}
	s = s.with(in.hold, stWaiting)
	s.waiting = append(s.waiting[:len(s.waiting):len(s.waiting)], w)
	return s
}

// leave takes in's entry out of the line.
func (in *input) leave(s state) state {
	s = s.with(in.hold, stLeft)
	s.waiting = removeWaiter(s.waiting, in.hold)
	return s
}

func removeWaiter(ws []waiter, hold int) []waiter {
	out := make([]waiter, 0, len(ws))
	for _, w := range ws {
		if w.hold != hold {
			out = append(out, w)
		}
	}
	return out
}

// offer gives what is free to the waiting entries that fit, first come first.
func (in *input) offer(s state) state {
	for _, w := range s.waiting {
		fits := true
		for b := 0; b < MaxBuckets; b++ {
			if w.buckets&(1<<b) != 0 && in.spec.Capacity-s.held[b]-s.confirmed[b] < w.qty {
				fits = false
			}
		}
		if !fits {
			continue
		}
		for b := 0; b < MaxBuckets; b++ {
			if w.buckets&(1<<b) != 0 {
				s.held[b] += w.qty
			}
		}
		s = s.with(w.hold, stHeld)
		s.waiting = removeWaiter(s.waiting, w.hold)
	}
	return s
}
