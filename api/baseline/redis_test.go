package baseline

import (
	"testing"
)

func TestRedis(t *testing.T) {
	srv := MustRedis(t)
	c := srv.Client(t)
	for k, want := range map[string]string{"appendonly": "yes", "appendfsync": "always"} {
		got, err := c.ConfigGet(t.Context(), k).Result()
		if err != nil || got[k] != want {
			t.Fatalf("CONFIG GET %s = %v (%v), want %s", k, got, err, want)
		}
	}
	base := mustServe(t, NewRedis(c))
	testStore(t, base)
	if n, err := c.HLen(t.Context(), "allot:{flash}:holds").Result(); err != nil || n != testStock {
		t.Fatalf("%d holds recorded (%v), want %d", n, err, testStock)
	}
}

func TestRedisUnderLoadgen(t *testing.T) {
	c := MustRedis(t).Client(t)
	runLoadgen(t, mustServe(t, NewRedis(c)), "")
}

func TestRedisUnavailable(t *testing.T) {
	c := MustRedis(t).Client(t)
	base := mustServe(t, NewRedis(c))
	createResource(t, base, "r", map[string]int64{"all": 1})
	_ = c.Close()
	a := placeHold(t, base, "r", "k", []string{"all"}, 1, "u")
	if a.Status != 503 || a.Code != "unavailable" {
		t.Fatalf("hold with the client closed: %d %s, want 503 unavailable", a.Status, a.Body)
	}
}
