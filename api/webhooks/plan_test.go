package webhooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/allot/allot/persistence/sidedbtest"
)

// TestClaimDueUsesThePendingIndexes: on SQLite the claim's statements find due deliveries
// through the partial indexes of migration 0022 (pending deliveries only), not by scanning the
// table, whose deliveries mostly succeeded long ago. EXPLAIN QUERY PLAN of the statements
// SQLStore.ClaimDue runs.
func TestClaimDueUsesThePendingIndexes(t *testing.T) {
	db := sidedbtest.SQLite(t, "") // migrated, as a node opens it
	for _, c := range []struct{ stmt, index string }{
		{`SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= 5 LIMIT 1`,
			"webhook_deliveries_pending_due"},
		{`SELECT 1 FROM webhook_endpoints e WHERE e.id NOT IN ('a')
 AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at_ms <= 5) LIMIT 1`,
			"webhook_deliveries_pending_due_by_endpoint"},
		{`SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= 5 AND endpoint_id NOT IN ('a')
  ORDER BY next_attempt_at_ms, id LIMIT 64`,
			"webhook_deliveries_pending_due"},
	} {
		rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+c.stmt)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "INDEX "+c.index+" ") {
			t.Errorf("%s\nplan: %s\nwant a search of %s", c.stmt, p, c.index)
		}
	}
}
