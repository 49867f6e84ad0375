package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestHMACSignerIsStandardWebhooks: the pooled signer's header equals the library's Sign for
// every length of body and id, from many goroutines at once (a pooled state reused without
// its Reset would sign the next payload after the last one), and verifies with the library.
func TestHMACSignerIsStandardWebhooks(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	hs, err := newHMACSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_765_000_000, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 300 {
				body := make([]byte, (n*37+g)%2000)
				_, _ = rand.Read(body)
				id := "hotel-" + strconv.Itoa(g) + "/" + strconv.Itoa(n) + "/0"
				want, err := wh.Sign(id, at.Add(time.Duration(n)*time.Second), body)
				if err != nil {
					t.Error(err)
					return
				}
				got := hs.sign(id, at.Add(time.Duration(n)*time.Second), body)
				if got != want {
					t.Errorf("%s, %d bytes: signed %q, the library %q", id, len(body), got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	now := time.Now()
	body := []byte(`{"id":"hotel-1/7/0"}`)
	hdr := http.Header{}
	hdr.Set(standardwebhooks.HeaderWebhookID, "hotel-1/7/0")
	hdr.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	hdr.Set(standardwebhooks.HeaderWebhookSignature, hs.sign("hotel-1/7/0", now, body))
	if err := wh.Verify(body, hdr); err != nil {
		t.Fatalf("the library does not verify the signature: %v", err)
	}
	for _, bad := range []string{"whsec_", "whsec_!!!", ""} {
		if _, err := newHMACSigner(bad); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}

// BenchmarkSign: one signature of a hold.placed-sized body, the library's Sign against the
// pooled signer (go test -run '^$' -bench Sign ./api/webhooks/).
func BenchmarkSign(b *testing.B) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	body := make([]byte, 420)
	at := time.Unix(1_765_000_000, 0)
	b.Run("library", func(b *testing.B) {
		wh, _ := standardwebhooks.NewWebhook(secret)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = wh.Sign("flash-r1/123456/0", at, body)
		}
	})
	b.Run("pooled", func(b *testing.B) {
		hs, _ := newHMACSigner(secret)
		b.ReportAllocs()
		for b.Loop() {
			_ = hs.sign("flash-r1/123456/0", at, body)
		}
	})
}
