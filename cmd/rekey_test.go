package cmd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/persistence/sqlite"
)

func mustParseRing(t *testing.T, lines ...string) *pii.Keyring {
	t.Helper()
	r, err := pii.ParseKeyring([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRekeyContactsPagesAndResumes: rekeyContacts re-seals every contact not under the primary
// key across pages, leaves those already under it unopened, counts one it cannot open without
// stopping, and a second run (or one resumed with --after) has nothing left to do.
func TestRekeyContactsPagesAndResumes(t *testing.T) {
	k1, k2, k9 := keyLine(t, "k1"), keyLine(t, "k2"), keyLine(t, "k9")
	old, rotated, stranger := mustParseRing(t, k1), mustParseRing(t, k2, k1), mustParseRing(t, k9)
	s := memstore.New()
	ctx := context.Background()
	t0 := time.UnixMilli(1_900_000_000_000).UTC()
	res := booking.Resource{ID: "r", Name: "R", HoldTTL: time.Minute, CreatedAt: t0, UpdatedAt: t0}
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Version: 1, Create: true, Resource: res}); err != nil {
		t.Fatal(err)
	}
	var holds []booking.Hold
	for i, ring := range []*pii.Keyring{old, old, rotated, old, stranger, old, nil} {
		h := booking.Hold{ID: "h" + string(rune('a'+i)), ResourceID: "r", UserID: "u", Quantity: 1, Status: booking.StatusHeld,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0}
		if ring != nil {
			sealed, err := ring.SealContact(pii.Contact{Email: "x@example.com"}, "r", "u")
			if err != nil {
				t.Fatal(err)
			}
			h.Contact = sealed
		}
		holds = append(holds, h)
	}
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res, Holds: holds}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Stop after the first page of two, as an interrupted run; resume from its last id.
	first, err := rekeyContacts(ctx, firstPageOnly{s}, rotated, "", 2, quiet, nil)
	if err == nil || first.Scanned != 2 || first.Resealed != 2 || first.LastID != "hb" {
		t.Fatalf("interrupted run: %+v, %v", first, err)
	}
	rest, err := rekeyContacts(ctx, s, rotated, first.LastID, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rest.Scanned != 4 || rest.Resealed != 2 || rest.Current != 1 || rest.Failed != 1 || rest.Remaining["k9"] != 1 {
		t.Fatalf("resumed run: %+v", rest)
	}
	again, err := rekeyContacts(ctx, s, rotated, "", 500, quiet, nil)
	if err != nil || again.Scanned != 6 || again.Resealed != 0 || again.Current != 5 || again.Failed != 1 {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	for _, h := range holds {
		got, _ := s.GetHold(ctx, "r", h.ID)
		id, _ := pii.KeyID(got.Contact)
		switch {
		case h.Contact == nil && got.Contact != nil:
			t.Fatalf("%s got a contact", h.ID)
		case h.ID == "he" && id != "k9", h.ID != "he" && h.Contact != nil && id != "k2":
			t.Fatalf("%s is under %q", h.ID, id)
		}
		if h.Contact != nil && h.ID != "he" {
			if c, err := mustParseRing(t, k2).OpenContact(got.Contact, "r", "u"); err != nil || c.Email != "x@example.com" {
				t.Fatalf("%s opens with k2 alone to %v, %v", h.ID, c, err)
			}
		}
	}
}

// firstPageOnly is a ContactStore that fails reading any page but the first, as a run cut
// short by its timeout.
type firstPageOnly struct{ *memstore.Store }

func (s firstPageOnly) Contacts(ctx context.Context, after string, limit int) ([]persistence.StoredContact, error) {
	if after != "" {
		return nil, context.DeadlineExceeded
	}
	return s.Store.Contacts(ctx, after, limit)
}

// TestRekeyBesideARunningNode rotates the data key of a real single node on SQLite: holds
// sealed under k1; the node restarted with k2 first; `allot rekey` run while it serves; a
// hold it keeps in memory since before is confirmed after the rekey (its after-image must not
// bring k1 back); then a node with k2 alone reads every contact whole.
func TestRekeyBesideARunningNode(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	k1, k2 := keyLine(t, "k1"), keyLine(t, "k2")
	ring1 := writeRing(t, dir, "ring1", k1)
	ring21 := writeRing(t, dir, "ring21", k2, k1)
	ring2 := writeRing(t, dir, "ring2", k2)
	withRing := func(path string) func(*NodeConfig) {
		return func(c *NodeConfig) { c.DataDir, c.DataKeyFile, c.WebhookAllowPrivate = dataDir, path, true }
	}
	guestSpec := auth.TokenSpec{Subject: "u-guest", TTL: time.Hour}

	a := MustRunMain(t, withRing(ring1))
	ids := bookGuest(t, a)
	nodeClient{t: t, m: a, base: a.HTTPURL()}.do("POST", "/v1/webhooks", webhookAdmin,
		`{"url":"http://127.0.0.1:9/hook","event_types":["hold.placed"]}`, nil) // its secret is sealed under k1 too
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := MustRunMain(t, withRing(ring21))
	cb := nodeClient{t: t, m: b, base: b.HTTPURL()}
	var h wire.Hold
	cb.do("GET", "/v1/resources/inn-1/holds/"+ids[0], guestSpec, "", &h) // inn-1 now lives in b's memory, sealed under k1
	cb.do("POST", "/v1/resources/inn-1/holds", guestSpec, guestHold(guest), &h)
	ids = append(ids, h.ID)

	var out, errs bytes.Buffer
	// A dry run says what the run below does, and writes nothing (the run below still finds
	// all four to re-seal).
	if code := Execute([]string{"rekey", "--dry-run", "--data-key-file", ring21, "--data-dir", dataDir}, &out, &errs); code != 0 ||
		!strings.Contains(out.String(), "read 5, would re-seal 4, already under k2 1, changed meanwhile 0, not opened 0") ||
		!strings.Contains(out.String(), "webhook secrets: would re-seal 1, already under k2 0, not sealed 0") {
		t.Fatalf("dry run exit %d: %s %s", code, out.String(), errs.String())
	}
	// Before the rekey, the ring without k1 cannot open four contacts and the secret.
	out.Reset()
	if code := Execute([]string{"rekey", "--dry-run", "--data-key-file", ring2, "--data-dir", dataDir}, &out, &errs); code != 1 ||
		!strings.Contains(out.String(), "not opened 4") || !strings.Contains(out.String(), "not opened 1") {
		t.Fatalf("dry run without k1 exit %d: %s", code, out.String())
	}
	out.Reset()
	if code := Execute([]string{"rekey", "--data-key-file", ring21, "--data-dir", dataDir, "--batch", "2"}, &out, &errs); code != 0 {
		t.Fatalf("rekey exit %d: %s %s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "read 5, re-sealed 4, already under k2 1, changed meanwhile 0, not opened 0") ||
		!strings.Contains(out.String(), "webhook secrets: re-sealed 1, already under k2 0, not sealed 0") {
		t.Fatalf("rekey said: %s", out.String())
	}
	expectNoTraces(t, "rekey's output", append(out.Bytes(), errs.Bytes()...))
	cb.do("POST", "/v1/resources/inn-1/holds/"+ids[0]+"/confirm", guestSpec, "", nil)
	out.Reset()
	if code := Execute([]string{"rekey", "--data-key-file", ring21, "--data-dir", dataDir}, &out, &errs); code != 0 ||
		!strings.Contains(out.String(), "re-sealed 0, already under k2 5") {
		t.Fatalf("second rekey exit %d: %s", code, out.String())
	}
	// Now the ring without k1 opens everything: k1 may go.
	out.Reset()
	if code := Execute([]string{"rekey", "--dry-run", "--data-key-file", ring2, "--data-dir", dataDir}, &out, &errs); code != 0 ||
		!strings.Contains(out.String(), "would re-seal 0, already under k2 5, changed meanwhile 0, not opened 0") {
		t.Fatalf("dry run after rekey exit %d: %s", code, out.String())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(filepath.Join(dataDir, "allot.db")))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Contacts(context.Background(), "", 100)
	s.Close()
	if err != nil || len(stored) != 5 {
		t.Fatalf("stored contacts: %d, %v", len(stored), err)
	}
	for _, c := range stored {
		if id, _ := pii.KeyID(c.Contact); id != "k2" {
			t.Fatalf("hold %s still under %q", c.HoldID, id)
		}
	}

	c := MustRunMain(t, withRing(ring2))
	cc := nodeClient{t: t, m: c, base: c.HTTPURL()}
	for _, id := range ids {
		var got wire.Hold
		cc.do("GET", "/v1/resources/inn-1/holds/"+id, guestSpec, "", &got)
		if got.Contact == nil || *got.Contact != guest {
			t.Fatalf("hold %s after retiring k1: contact %+v", id, got.Contact)
		}
	}
}
