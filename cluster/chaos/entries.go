package chaos

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// unnamedEntries counts the waitlist entries of the round's resources, waiting or offered,
// that no join's answer named: a join whose every attempt went unanswered, or whose retry
// was refused before an earlier attempt joined (joins carry an Idempotency-Key, so a retry
// answered ok names the first attempt's entry; before they did, each attempt of a join
// retried after a lost answer made an entry of its own; the model allows all of it, see
// compile). The count says how often that happened, which the linearizability check cannot.
func unnamedEntries(ctx context.Context, dbURL, prefix string, ops []*Op) (int, error) {
	named := map[string]bool{}
	for _, op := range ops {
		if op.Kind == KindJoin && op.Entry != "" {
			named[op.Entry] = true
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("entries: connect: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id FROM waitlist WHERE resource_id LIKE $1
		UNION ALL SELECT waitlist_entry_id FROM holds WHERE resource_id LIKE $1 AND waitlist_entry_id <> ''`, prefix+"%")
	if err != nil {
		return 0, fmt.Errorf("entries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("entries: %w", err)
	}
	n := 0
	for _, id := range ids {
		if !named[id] {
			n++
		}
	}
	return n, nil
}
