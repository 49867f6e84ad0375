package sqlite

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// TestHoldsCarryTheirIdempotencyEntries: an entry that is all its hold's is written as the
// hold's idem_entry flag, not as an idempotency_keys row; one that is not (another
// fingerprint, a renewal's) is a row. Activate returns both kinds; a later after-image of the
// hold (it expired, was cancelled: no entry) keeps the flag, and the entry stays readable; an
// activation's idemSince is a floor for the carried entries, as its prune is for the rows; a
// restart reads the same. With Config.IdempotencyRows every entry is a row, as before.
func TestHoldsCarryTheirIdempotencyEntries(t *testing.T) {
	for _, rowsOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("IdempotencyRows=%v", rowsOnly), func(t *testing.T) { testHoldsCarryEntries(t, rowsOnly) })
	}
}

func testHoldsCarryEntries(t *testing.T, rowsOnly bool) {
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "allot.db"))
	cfg.IdempotencyRows = rowsOnly
	s := MustOpen(t, cfg)
	ctx := context.Background()
	mustCommit(t, s, createBatch("r1"))

	hold := func(id, key string, ms int64, buckets ...string) booking.Hold {
		h := newHold("r1", id)
		h.UserID, h.IdempotencyKey, h.Buckets = "u-"+id, key, buckets
		h.CreatedAt = t0.Add(time.Duration(ms) * time.Millisecond)
		return h
	}
	entry := func(h booking.Hold) booking.IdempotencyEntry {
		return booking.IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt}
	}
	h1, h2, h3 := hold("h1", "k1", 1, "b", "a"), hold("h2", "k2", 2, "a"), hold("h3", "k3", 3, "a")
	e1, e2 := entry(h1), entry(h2)
	e3 := entry(h3)
	e3.Fingerprint = "other" // not the hold's: a row
	renewal := booking.IdempotencyEntry{Key: "k4", Fingerprint: "extend|u-h1|h1", HoldID: h1.ID, CreatedAt: t0.Add(4 * time.Millisecond)}
	version := uint64(1)
	commit := func(epoch uint64, holds []booking.Hold, idem ...booking.IdempotencyEntry) {
		t.Helper()
		version++
		mustCommit(t, s, &persistence.Batch{ResourceID: "r1", Epoch: epoch, Version: version, Resource: res("r1"), Holds: holds, Idempotency: idem})
	}
	commit(1, []booking.Hold{h1, h2, h3}, e1, e2, e3, renewal)

	rows := func() (keys []string, carried []string) {
		t.Helper()
		for q, dst := range map[string]*[]string{
			`SELECT idem_key FROM idempotency_keys WHERE resource_id = 'r1' ORDER BY idem_key`:                   &keys,
			`SELECT idempotency_key FROM holds WHERE resource_id = 'r1' AND idem_entry ORDER BY idempotency_key`: &carried,
		} {
			r, err := s.rdb.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				var k string
				if err := r.Scan(&k); err != nil {
					t.Fatal(err)
				}
				*dst = append(*dst, k)
			}
			if err := closeRows(r); err != nil {
				t.Fatal(err)
			}
		}
		return keys, carried
	}
	keys, carried := rows()
	wantKeys, wantCarried := []string{"k3", "k4"}, []string{"k1", "k2"}
	if rowsOnly {
		wantKeys, wantCarried = []string{"k1", "k2", "k3", "k4"}, nil
	}
	if !reflect.DeepEqual(keys, wantKeys) || !reflect.DeepEqual(carried, wantCarried) {
		t.Fatalf("idempotency_keys rows %q, carried by holds %q; want %q and %q", keys, carried, wantKeys, wantCarried)
	}

	all := []booking.IdempotencyEntry{e1, e2, e3, renewal}
	activate := func(s *Store, epoch uint64, since time.Time, want []booking.IdempotencyEntry) {
		t.Helper()
		snap, err := s.Activate(ctx, "r1", since)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Epoch != epoch {
			t.Fatalf("epoch %d, want %d", snap.Epoch, epoch)
		}
		if !reflect.DeepEqual(snap.Idempotency, want) {
			t.Fatalf("activation since %v: entries\n%+v\nwant\n%+v", since, snap.Idempotency, want)
		}
	}
	activate(s, 2, time.Time{}, all)

	// The holds end (expired, cancelled): no entry in the batch, the flags stay.
	h1.Status, h1.UpdatedAt = booking.StatusExpired, t0.Add(time.Minute)
	h2.Status, h2.UpdatedAt = booking.StatusCancelled, t0.Add(time.Minute)
	commit(2, []booking.Hold{h1, h2})
	activate(s, 3, time.Time{}, all)

	// A restart reads the same.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpen(t, cfg)
	activate(s, 4, time.Time{}, all)

	// The prune of the entries created before since: rows deleted, carried ones under the floor.
	activate(s, 5, t0.Add(2*time.Millisecond), all[1:])
	activate(s, 6, time.Time{}, all[1:])
}

// TestEncodeCarriesOnlyWholeEntries: an entry is carried by the batch's last image of its hold
// and only when that image stores all of it; a key repeated in a batch is written once (the
// first); a hold with an unknown status is refused (selectHoldIdem names every valid one).
func TestEncodeCarriesOnlyWholeEntries(t *testing.T) {
	h := newHold("r1", "h1")
	h.IdempotencyKey = "k"
	e := booking.IdempotencyEntry{Key: "k", Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: "h1", CreatedAt: h.CreatedAt}
	later := h
	later.Quantity = 2 // the stored image no longer gives e's fingerprint
	other := e
	other.HoldID = "h2"
	for name, c := range map[string]struct {
		holds      []booking.Hold
		idem       []booking.IdempotencyEntry
		flags      []bool
		rows       int
		noCarrying bool
	}{
		"carried":             {holds: []booking.Hold{h}, idem: []booking.IdempotencyEntry{e}, flags: []bool{true}},
		"repeated key":        {holds: []booking.Hold{h}, idem: []booking.IdempotencyEntry{e, other}, flags: []bool{true}},
		"repeated key, row":   {holds: []booking.Hold{h}, idem: []booking.IdempotencyEntry{other, e}, flags: []bool{false}, rows: 1},
		"last image differs":  {holds: []booking.Hold{h, later}, idem: []booking.IdempotencyEntry{e}, flags: []bool{false, false}, rows: 1},
		"last image carries":  {holds: []booking.Hold{later, h}, idem: []booking.IdempotencyEntry{e}, flags: []bool{false, true}},
		"no hold in batch":    {idem: []booking.IdempotencyEntry{e}, rows: 1},
		"IdempotencyRows set": {holds: []booking.Hold{h}, idem: []booking.IdempotencyEntry{e}, flags: []bool{false}, rows: 1, noCarrying: true},
	} {
		b := &persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 2, Resource: res("r1"), Holds: c.holds, Idempotency: c.idem}
		var enc encodedBatch
		if err := encode(b, &enc, !c.noCarrying); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var flags []bool
		for i := range c.holds {
			flags = append(flags, enc.holds[(i+1)*holdWidth-1].(bool))
		}
		if !reflect.DeepEqual(flags, c.flags) || len(enc.idem) != 5*c.rows {
			t.Fatalf("%s: flags %v, %d rows; want %v, %d", name, flags, len(enc.idem)/5, c.flags, c.rows)
		}
	}
	bad := h
	bad.Status = "lost"
	if err := encode(&persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 2, Resource: res("r1"), Holds: []booking.Hold{bad}}, &encodedBatch{}, true); err == nil {
		t.Fatal("a hold with an unknown status was encoded")
	}
}

// TestUpgradeKeepsReplaysOfKeysStoredBefore: a file made by the store of main e4ab791, before
// holds carried their entries (testdata/main-e4ab791.db.gz: persistence/sqlite of that commit,
// resource r1 with a held, an expired and a cancelled hold, each placed with a key, and a
// renewal's key, all four idempotency_keys rows), opens here, and every key stored before
// is still found by an activation, with the entries of the holds placed after it, after a
// restart too; a key placed again within the retention keeps its first answer.
func TestUpgradeKeepsReplaysOfKeysStoredBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	unzip(t, "testdata/main-e4ab791.db.gz", path)
	ctx := context.Background()
	s := MustOpen(t, DefaultConfig(path))
	var version int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if steps, _ := persistence.Migrations(); version != int64(steps[len(steps)-1].Version) {
		t.Fatalf("schema at step %d after Open", version)
	}
	at := func(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	entry := func(key, hold, user string, ms int64, buckets ...string) booking.IdempotencyEntry {
		return booking.IdempotencyEntry{Key: key, Fingerprint: booking.Fingerprint(buckets, 1, user), HoldID: hold, CreatedAt: at(ms)}
	}
	before := []booking.IdempotencyEntry{
		entry("k-held", "h_held", "u-h_held", 1, "a"),
		entry("k-expired", "h_expired", "u-h_expired", 2, "a", "b"),
		entry("k-cancelled", "h_cancelled", "u-h_cancelled", 3, "b"),
		{Key: "k-renew", Fingerprint: "extend|u-h_held|h_held", HoldID: "h_held", CreatedAt: at(4)},
	}
	snap, err := s.Activate(ctx, "r1", at(-1))
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists || snap.Version != 2 || !reflect.DeepEqual(snap.Idempotency, before) {
		t.Fatalf("after the upgrade: version %d, entries\n%+v\nwant\n%+v", snap.Version, snap.Idempotency, before)
	}
	// A hold placed now carries its entry; a retry of a key from before finds its first entry.
	h := newHold("r1", "h_new")
	h.IdempotencyKey, h.CreatedAt = "k-new", at(10)
	placed := booking.IdempotencyEntry{Key: "k-new", Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt}
	again := entry("k-held", "h_other", "u-h_held", 11, "a")
	mustCommit(t, s, &persistence.Batch{ResourceID: "r1", Epoch: snap.Epoch, Version: 3, Resource: snap.Resource, Holds: []booking.Hold{h},
		NewHolds: 1, Idempotency: []booking.IdempotencyEntry{placed, again}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpen(t, DefaultConfig(path))
	if snap, err = s.Activate(ctx, "r1", at(-1)); err != nil {
		t.Fatal(err)
	}
	if want := append(append([]booking.IdempotencyEntry(nil), before...), placed); !reflect.DeepEqual(snap.Idempotency, want) {
		t.Fatalf("after a restart: entries\n%+v\nwant\n%+v", snap.Idempotency, want)
	}
}

// unzip writes the gzip file src (relative to the package) to dst.
func unzip(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, z); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
