package audit

import (
	"context"
	"time"
)

// Store keeps the audit log.
//
// Thread-safety: every method is safe for concurrent use.
//
// Errors: Append returns an error when the entry may not be stored (the caller logs and
// counts it: the action it records has happened already); an entry whose ID is stored
// already is not stored twice and is no error. List returns entries matching f, newest first
// by (At, ID), at most f.Limit, with the cursor of the next page. Prune deletes the entries
// whose At is before the given time and returns how many it deleted; on an error some may
// have been deleted (pruning again finishes the job).
type Store interface {
	Append(ctx context.Context, e Entry) error
	List(ctx context.Context, f Filter) (Page, error)
	Prune(ctx context.Context, before time.Time) (int64, error)
}
