package notify

import "time"

// Retried is n after an operator's retry at now, and whether a retry is allowed: only a
// failed notification is retried (a pending one is due already, a sent one went out, a
// skipped one was made moot on purpose and would be skipped again). The retried
// notification is pending and due at now; Attempts and LastError are kept, so the next
// claim counts one more attempt and the list shows why it failed until that attempt ends.
// Pure: the store applies it (Store.RetryNotification).
func Retried(n Notification, now time.Time) (Notification, bool) {
	if n.Status != StatusFailed {
		return n, false
	}
	n.Status, n.NextAttemptAt, n.UpdatedAt = StatusPending, now, now
	return n, true
}
