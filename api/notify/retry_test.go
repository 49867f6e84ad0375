package notify

import (
	"testing"
	"time"
)

func TestRetried(t *testing.T) {
	now := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	failed := Notification{ID: "nt_1", Status: StatusFailed, Attempts: 12, LastError: "550 no such user",
		NextAttemptAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	got, ok := Retried(failed, now)
	if !ok || got.Status != StatusPending || !got.NextAttemptAt.Equal(now) || !got.UpdatedAt.Equal(now) ||
		got.Attempts != 12 || got.LastError != failed.LastError {
		t.Fatalf("Retried(failed) = %+v, %v", got, ok)
	}
	for _, st := range []string{StatusPending, StatusSent, StatusSkipped} {
		n := failed
		n.Status = st
		if got, ok := Retried(n, now); ok || got != n {
			t.Errorf("Retried(%s) = %+v, %v; want unchanged, false", st, got, ok)
		}
	}
}
