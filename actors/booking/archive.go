package booking

import (
	"sort"
	"time"
)

// Browsing and archiving: a resource's tags and location are metadata for search (GET
// /v1/resources); archiving retires a resource: it is no longer listed, and takes no new
// holds, waitlist entries or updates, while its bookings stay readable and cancellable.

// Limits on tags and locations.
const (
	MaxTags           = 16
	MaxTagLength      = 32
	MaxLocationLength = 256
)

// ValidTag reports whether s may be a tag: 1..MaxTagLength lowercase ASCII letters, digits and
// '-' (so that stores can match a tag exactly inside a JSON list without escaping).
func ValidTag(s string) bool {
	if len(s) == 0 || len(s) > MaxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateTags checks a resource's tags: at most MaxTags distinct valid tags.
func ValidateTags(tags []string) error {
	if len(tags) > MaxTags {
		return invalidf("a resource has at most %d tags", MaxTags)
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if !ValidTag(t) {
			return invalidf("tag %s must be 1-%d lowercase letters, digits or '-'", quote(t), MaxTagLength)
		}
		if seen[t] {
			return invalidf("tag %s is given twice", quote(t))
		}
		seen[t] = true
	}
	return nil
}

// ValidateLocation checks a resource's location: "" (none), or a name (ValidName rules) of at
// most MaxLocationLength bytes.
func ValidateLocation(s string) error {
	if s != "" && (!ValidName(s) || len(s) > MaxLocationLength) {
		return invalidf("location must be 1-%d bytes of UTF-8 without control or bidirectional formatting characters", MaxLocationLength)
	}
	return nil
}

// normalTags is the stored form of tags: sorted, nil when empty.
func normalTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := append([]string(nil), tags...)
	sort.Strings(out)
	return out
}

// ArchiveResource retires the resource (see DecideArchive).
type ArchiveResource struct{}

// ResourceArchived records that the resource was archived at At.
type ResourceArchived struct{ At time.Time }

func (ResourceArchived) isEvent() {}

// Archived reports whether the resource was archived.
func (r *Resource) Archived() bool { return !r.ArchivedAt.IsZero() }

// DecideArchive validates archiving. It is refused (conflict) while the resource has a live
// hold (held, its deadline not reached) or a waiting waitlist entry, since both are promises
// to a user; confirmed bookings stay. Archiving an archived resource succeeds with no events.
func (s *State) DecideArchive(_ ArchiveResource, now time.Time) ([]Event, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if s.resource.Archived() {
		return nil, nil
	}
	live := 0
	for _, h := range s.holds.list {
		if h.Status() == StatusHeld && now.Before(h.ExpiresAt()) {
			live++
		}
	}
	if live > 0 {
		return nil, Errorf(CodeConflict, "resource %s has %d live holds; archive it once they are confirmed, cancelled or expired", quote(s.id), live)
	}
	if n := len(s.waiting()); n > 0 {
		return nil, Errorf(CodeConflict, "resource %s has %d users on its waitlist", quote(s.id), n)
	}
	return []Event{ResourceArchived{At: now}}, nil
}

// refuseArchived refuses what an archived resource no longer takes.
func (s *State) refuseArchived() error {
	if s.resource.Archived() {
		return Errorf(CodeConflict, "resource %s is archived", quote(s.id))
	}
	return nil
}

// copyResource returns r with its own Price and Tags.
func copyResource(r Resource) Resource {
	if r.Price != nil {
		p := *r.Price
		r.Price = &p
	}
	r.Tags = normalTags(r.Tags)
	r.Refunds = copyRefunds(r.Refunds)
	return r
}
