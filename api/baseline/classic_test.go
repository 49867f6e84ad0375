package baseline

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

// mustClassic returns a pool on a fresh database that Allot's migrator prepared.
func mustClassic(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := pgtest.MustServer(t).MustDatabase(t)
	mc := postgres.DefaultConfig()
	mc.URL = url
	if err := postgres.Migrate(t.Context(), mc); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}

func TestClassic(t *testing.T) {
	pool, _ := mustClassic(t)
	base := mustServe(t, NewClassic(pool))
	testStore(t, base)

	// The rows agree with what clients were told: exactly the stock, no oversold bucket.
	ctx := context.Background()
	var holds, units int64
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(quantity), 0) FROM holds WHERE resource_id = 'flash' AND status = 'held'`).Scan(&holds, &units); err != nil {
		t.Fatal(err)
	}
	if holds != testStock || units != testStock {
		t.Fatalf("%d holds of %d units in the database, want %d", holds, units, testStock)
	}
	var oversold int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM buckets WHERE held + confirmed > capacity`).Scan(&oversold); err != nil {
		t.Fatal(err)
	}
	if oversold != 0 {
		t.Fatalf("%d oversold buckets", oversold)
	}
}

func TestClassicUnderLoadgen(t *testing.T) {
	pool, url := mustClassic(t)
	runLoadgen(t, mustServe(t, NewClassic(pool)), url)
}

func TestClassicUnavailable(t *testing.T) {
	pool, _ := mustClassic(t)
	base := mustServe(t, NewClassic(pool))
	createResource(t, base, "r", map[string]int64{"all": 1})
	pool.Close() // the database is gone for the handler
	a := placeHold(t, base, "r", "k", []string{"all"}, 1, "u")
	if a.Status != 503 || a.Code != "unavailable" {
		t.Fatalf("hold with the pool closed: %d %s, want 503 unavailable", a.Status, a.Body)
	}
}
