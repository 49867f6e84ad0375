package pii

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKey is a fixed key derived from a seed, so that tests are repeatable.
func testKey(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(rng.Uint32())
	}
	return k
}

func line(id string, seed uint64) string {
	return id + ":" + base64.StdEncoding.EncodeToString(testKey(seed))
}

func mustRing(t testing.TB, lines ...string) *Keyring {
	t.Helper()
	r, err := ParseKeyring([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := mustRing(t, "# data keys", "", line("k1", 1))
	for _, pt := range [][]byte{{}, []byte("x"), []byte(strings.Repeat("guest ", 1000))} {
		ct, err := r.Seal(pt, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if id, err := KeyID(ct); err != nil || id != "k1" {
			t.Fatalf("KeyID = %q, %v", id, err)
		}
		got, err := r.Open(ct, []byte("ad"))
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	a, _ := r.Seal([]byte("same"), nil)
	b, _ := r.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal: nonces repeat")
	}
}

func TestOpenWithWrongKey(t *testing.T) {
	ct, err := mustRing(t, line("k1", 1)).Seal([]byte("jane@example.com"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustRing(t, line("k1", 2)).Open(ct, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("same id, other key: %v, want ErrDecrypt", err)
	}
	if _, err := mustRing(t, line("k2", 1)).Open(ct, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("ring without the id: %v, want ErrUnknownKey", err)
	}
}

func TestTamperedCiphertextFails(t *testing.T) {
	r := mustRing(t, line("k1", 1), line("k2", 2))
	ct, err := r.Seal([]byte("jane@example.com"), []byte("hold-1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			if pt, err := r.Open(bad, []byte("hold-1")); err == nil {
				t.Fatalf("byte %d bit %#x flipped: opened to %q", i, bit, pt)
			}
		}
	}
	for n := range len(ct) {
		if _, err := r.Open(ct[:n], []byte("hold-1")); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
}

func TestContactBoundToResourceAndUser(t *testing.T) {
	r := mustRing(t, line("k1", 1))
	c := Contact{Name: "Jane Doe", Email: "jane@example.com", Phone: "+4915123456712"}
	sealed, err := r.SealContact(c, "room-1", "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("jane")) || bytes.Contains(sealed, []byte("Jane")) {
		t.Fatal("the sealed contact contains the plaintext")
	}
	if got, err := r.OpenContact(sealed, "room-1", "u-1"); err != nil || got != c {
		t.Fatalf("OpenContact = %+v, %v", got, err)
	}
	for _, other := range [][2]string{{"room-1", "u-2"}, {"room-2", "u-1"}, {"room-1u", "-1"}, {"", "room-1u-1"}} {
		if _, err := r.OpenContact(sealed, other[0], other[1]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("opened for resource %q user %q: %v", other[0], other[1], err)
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustRing(t, line("k1", 1))
	ad := ContactAD("room-1", "h-1")
	ctOld, _ := old.Seal([]byte("before"), ad)

	// Phase 1: the new key is installed but not primary: still seals under k1, opens both.
	installed := mustRing(t, line("k1", 1), line("k2", 2))
	if installed.PrimaryID() != "k1" {
		t.Fatalf("primary = %s", installed.PrimaryID())
	}
	// Phase 2: the new key is primary.
	rotated := mustRing(t, line("k2", 2), line("k1", 1))
	ctNew, _ := rotated.Seal([]byte("after"), ad)
	if id, _ := KeyID(ctNew); id != "k2" {
		t.Fatalf("new seals under %s, want k2", id)
	}
	for _, r := range []*Keyring{installed, rotated} {
		if pt, err := r.Open(ctOld, ad); err != nil || string(pt) != "before" {
			t.Fatalf("%v: old ciphertext: %q, %v", r, pt, err)
		}
		if pt, err := r.Open(ctNew, ad); err != nil || string(pt) != "after" {
			t.Fatalf("%v: new ciphertext: %q, %v", r, pt, err)
		}
	}
	if _, err := old.Open(ctNew, ad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a node without k2 opened a k2 ciphertext: %v", err)
	}

	// Phase 3: rekey moves old ciphertexts to k2; then k1 can go.
	re, changed, err := rotated.Rekey(ctOld, ad)
	if err != nil || !changed {
		t.Fatalf("Rekey: changed %v, %v", changed, err)
	}
	if id, _ := KeyID(re); id != "k2" {
		t.Fatalf("rekeyed under %s", id)
	}
	same, changed, err := rotated.Rekey(re, ad)
	if err != nil || changed || !bytes.Equal(same, re) {
		t.Fatalf("Rekey of a primary ciphertext: changed %v, %v", changed, err)
	}
	if _, _, err := rotated.Rekey(ctOld, ContactAD("room-1", "h-2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Rekey with the wrong associated data: %v", err)
	}
	retired := mustRing(t, line("k2", 2))
	if pt, err := retired.Open(re, ad); err != nil || string(pt) != "before" {
		t.Fatalf("after retiring k1: %q, %v", pt, err)
	}
}

func TestParseKeyringRefuses(t *testing.T) {
	for name, content := range map[string]string{
		"empty":         "# nothing\n\n",
		"no colon":      base64.StdEncoding.EncodeToString(testKey(1)),
		"short key":     "k1:" + base64.StdEncoding.EncodeToString(testKey(1)[:16]),
		"not base64":    "k1:%%%",
		"bad id":        line("k 1", 1),
		"long id":       line(strings.Repeat("k", 33), 1),
		"duplicate id":  line("k1", 1) + "\n" + line("k1", 2),
		"duplicate key": line("k1", 1) + "\n" + line("k2", 1),
	} {
		_, err := ParseKeyring([]byte(content))
		if !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v, want ErrKeyFile", name, err)
		}
		if err != nil && strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(testKey(1))[:12]) {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
	if r := mustRing(t, "k1:"+base64.RawStdEncoding.EncodeToString(testKey(1))); r.PrimaryID() != "k1" {
		t.Fatal("unpadded base64 refused")
	}
}

func TestLoadKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data-keys")
	if err := os.WriteFile(path, []byte(line("k2", 2)+"\n"+line("k1", 1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyring(path); err == nil {
		t.Fatal("loaded a key file others may read")
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	r, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.PrimaryID() != "k2" || fmt.Sprint(r.IDs()) != "[k2 k1]" || !r.Has("k1") || r.Has("k3") {
		t.Fatalf("loaded %v", r)
	}
	if _, err := LoadKeyring(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("loaded a missing file")
	}
}

func TestNewKeyLine(t *testing.T) {
	l1, err := NewKeyLine("k2027")
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := NewKeyLine("k2028")
	r := mustRing(t, l1, l2)
	if r.PrimaryID() != "k2027" {
		t.Fatalf("primary %s", r.PrimaryID())
	}
	if _, err := NewKeyLine("bad id"); err == nil {
		t.Fatal("NewKeyLine accepted a bad id")
	}
}

// TestNothingSecretIsPrinted formats and logs a keyring and a contact every way a careless
// change might, and looks for key material and personal data in the output.
func TestNothingSecretIsPrinted(t *testing.T) {
	r := mustRing(t, line("k1", 1))
	c := Contact{Name: "Jane Doe", Email: "jane@example.com", Phone: "+4915123456712"}
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("loaded", "ring", r, "contact", c, "ptr", &c)
	log.Info("text", slog.Any("ring", r))
	slog.New(slog.NewTextHandler(&out, nil)).Info("loaded", "ring", r, "contact", c)
	fmt.Fprintf(&out, "%v %+v %#v %s %v %+v %#v %v", r, r, r, r, c, c, c, []Contact{c})
	k := testKey(1)
	for _, secret := range []string{
		base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k)[:16],
		string(k[:8]), fmt.Sprintf("%x", k[:8]), fmt.Sprint(k[:8]),
		"Jane", "jane@", "example.com", "15123456712",
	} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("output contains %q:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "k1") {
		t.Fatalf("key ids should be shown:\n%s", out.String())
	}
}

func TestMasks(t *testing.T) {
	for in, want := range map[string]string{
		"jane.doe@example.com": "j***@example.com",
		"j@example.com":        "j***@example.com",
		"äbc@example.de":       "ä***@example.de",
		"no-at-sign":           "***",
		"@example.com":         "***",
		"":                     "",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"+4915123456712":    "+49******12",
		"+49 151 234567 12": "+49******12",
		"030 1234567":       "03******67",
		"12345":             "******",
		"":                  "",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Jane Doe":     "J*** D***",
		"Jane van Doe": "J*** v*** D***",
		"Émile":        "É***",
		"":             "",
	} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	c := Contact{Name: "Jane Doe", Email: "jane@example.com", Phone: "+4915123456712"}
	if got := c.For(false); got != (Contact{"J*** D***", "j***@example.com", "+49******12"}) {
		t.Fatalf("For(false) = %#v", got.Name+"|"+got.Email+"|"+got.Phone)
	}
	if c.For(true) != c {
		t.Fatal("For(true) changed the contact")
	}
	if !(Contact{}).IsZero() || c.IsZero() {
		t.Fatal("IsZero")
	}
}

func FuzzOpen(f *testing.F) {
	r := mustRing(f, line("k1", 1), line("k2", 2))
	ct, _ := r.Seal([]byte("jane@example.com"), []byte("hold"))
	f.Add(ct, []byte("hold"))
	f.Add([]byte{1, 2, 'k', '1'}, []byte(nil))
	f.Add([]byte{}, []byte("x"))
	f.Fuzz(func(t *testing.T, c, ad []byte) {
		pt, err := r.Open(c, ad)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open: unexpected error %v", err)
			}
			if _, _, rerr := r.Rekey(c, ad); rerr == nil {
				if id, _ := KeyID(c); id != r.PrimaryID() {
					t.Fatal("Rekey succeeded on a ciphertext Open refused")
				}
			}
			return
		}
		// Only a genuine seal opens: sealing the result again must open to the same bytes.
		again, err := r.Seal(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if pt2, err := r.Open(again, ad); err != nil || !bytes.Equal(pt, pt2) {
			t.Fatalf("re-seal of an opened plaintext: %v", err)
		}
	})
}
