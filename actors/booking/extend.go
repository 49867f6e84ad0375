package booking

import "time"

// DecideExtend validates a renewal of a hold by its owner (cmd.UserID; another user's hold is
// not found). A live held hold — held, and its deadline not yet reached — gets a fresh hold
// TTL from now, as a renewed cart does in pretix: the new deadline is now + the resource's
// HoldTTL, or the current one if that is later (a renewal never shortens a hold). A hold may
// be renewed at most the resource's MaxExtensions times (limit_exceeded); every renewal
// counts, also one that leaves the deadline where it was. Confirmed, cancelled and expired
// holds, and held holds past their deadline, cannot be renewed (conflict).
func (s *State) DecideExtend(cmd ExtendHold, now time.Time) ([]Event, error) {
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return nil, err
	}
	if h.UserID != cmd.UserID {
		return nil, Errorf(CodeNotFound, "hold %q not found", cmd.HoldID)
	}
	switch {
	case h.Status() != StatusHeld:
		return nil, Errorf(CodeConflict, "hold %q is %s and cannot be renewed", h.ID, h.Status())
	case !now.Before(h.ExpiresAt()):
		return nil, Errorf(CodeConflict, "hold %q expired at %s", h.ID, h.ExpiresAt().UTC().Format(time.RFC3339))
	case h.Extensions >= s.resource.MaxExtensions:
		return nil, Errorf(CodeLimitExceeded, "hold %q was renewed %d times, the most resource %s allows", h.ID, h.Extensions, quote(s.id))
	}
	until := now.Add(s.resource.HoldTTL)
	if until.Before(h.ExpiresAt()) {
		until = h.ExpiresAt()
	}
	return []Event{HoldExtended{HoldID: h.ID, ExpiresAt: until, Extensions: h.Extensions + 1, At: now}}, nil
}
