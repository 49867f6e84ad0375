package booking

import "time"

// ExtendDecision is the outcome of a renewal: the events to apply, or, for a retry of a
// renewal by its Idempotency-Key, Replayed and no events (see extend_replay.go). Either way
// the answer is the hold, cmd.HoldID, as it is after the events.
type ExtendDecision struct {
	Events   []Event
	Replayed bool
}

// DecideExtend validates a renewal of a hold by its owner (cmd.UserID; another user's hold is
// not found). A live held hold — held, and its deadline not yet reached — gets a fresh hold
// TTL from now, as a renewed cart does in pretix: the new deadline is now + the resource's
// HoldTTL, or the current one if that is later (a renewal never shortens a hold). A hold may
// be renewed at most the resource's MaxExtensions times (limit_exceeded); every renewal
// counts, also one that leaves the deadline where it was. Confirmed, cancelled and expired
// holds, and held holds past their deadline, cannot be renewed (conflict).
//
// A renewal with an IdempotencyKey the resource already knows is not renewed again: it is a
// replay, or refused as a reused key (see extend_replay.go), before any of the rules above.
func (s *State) DecideExtend(cmd ExtendHold, now time.Time) (ExtendDecision, error) {
	if cmd.IdempotencyKey != "" {
		if !s.exists {
			return ExtendDecision{}, Errorf(CodeNotFound, "resource %q not found", s.id)
		}
		if err := ValidateIdempotencyKey(cmd.IdempotencyKey); err != nil {
			return ExtendDecision{}, err
		}
		if ie, ok := s.Idempotency(cmd.IdempotencyKey); ok {
			return s.replayExtend(cmd, ie)
		}
	}
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return ExtendDecision{}, err
	}
	if h.UserID != cmd.UserID {
		return ExtendDecision{}, Errorf(CodeNotFound, "hold %q not found", cmd.HoldID)
	}
	switch {
	case h.Status() != StatusHeld:
		return ExtendDecision{}, Errorf(CodeConflict, "hold %q is %s and cannot be renewed", h.ID, h.Status())
	case !now.Before(h.ExpiresAt()):
		return ExtendDecision{}, Errorf(CodeConflict, "hold %q expired at %s", h.ID, h.ExpiresAt().UTC().Format(time.RFC3339))
	case h.Extensions() >= s.resource.MaxExtensions():
		return ExtendDecision{}, Errorf(CodeLimitExceeded, "hold %q was renewed %d times, the most resource %s allows", h.ID, h.Extensions(), quote(s.id))
	}
	until := now.Add(s.resource.HoldTTL)
	if until.Before(h.ExpiresAt()) {
		until = h.ExpiresAt()
	}
	return ExtendDecision{Events: []Event{HoldExtended{HoldID: h.ID, ExpiresAt: until, Extensions: h.Extensions() + 1, At: now,
		IdempotencyKey: cmd.IdempotencyKey}}}, nil
}
