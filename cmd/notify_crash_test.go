package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/smtptest"
	"github.com/allot/allot/cluster/clustertest"
)

// TestKill9MailsEveryAcknowledgedConfirmationOnce boots the real binary with ALLOT_SMTP_URL
// pointing at an SMTP server on 127.0.0.1 (events on a real NATS server), runs a burst of
// holds and confirms by customers whose tokens carry an email claim, SIGKILLs the node in
// the middle and restarts it: every confirmation acknowledged before the kill reaches its
// customer with a REQUEST invitation for the hold, and after deduplication by Message-ID
// exactly once: no confirmation is sent under two Message-IDs, none to the wrong person.
func TestKill9MailsEveryAcknowledgedConfirmationOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	mail := smtptest.New(t, smtptest.Options{})
	natsURL := startNATS(t)
	bin := clustertest.MustBinary(t)
	dataDir := t.TempDir()
	n := clustertest.StartNode(t, bin, clustertest.NodeOptions{Name: "solo", DataDir: dataDir,
		ExtraArgs: []string{"--nats-url", natsURL, "--data-key-file", writeDataKey(t), "--mail-from", "Allot <bookings@allot.test>"},
		Env:       []string{fmt.Sprintf("ALLOT_SMTP_URL=smtp://127.0.0.1:%d", mail.Port)}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	issuer := clustertest.DevIssuer(t, auth.DevKeyFile(dataDir))
	c := clustertest.NewClient(5*time.Second, issuer)
	if err := c.CreateResource(ctx, n.URL(), "spa-1", map[string]int64{"all": 100000}, "1h"); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	// call sends one request as the customer; ok is a 2xx answer (nothing is retried: a
	// request in flight at the kill is simply unacknowledged).
	call := func(tok, method, path, idem string, body any, out any) bool {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, n.URL()+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		res, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			return false
		}
		return out == nil || json.Unmarshal(b, out) == nil
	}

	var mu sync.Mutex
	confirmed := map[string]string{} // hold id -> the customer's address
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		addr := fmt.Sprintf("guest%d@example.com", w)
		tok, err := issuer.Mint(auth.TokenSpec{Subject: fmt.Sprintf("u-%d", w), Email: addr, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				enough := len(confirmed) >= 300 // bounds the test's work while the mails catch up
				mu.Unlock()
				if enough {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				var h struct {
					ID string `json:"id"`
				}
				if !call(tok, http.MethodPost, "/v1/resources/spa-1/holds", fmt.Sprintf("w%d-%d", w, i), map[string]any{"buckets": []string{"all"}, "quantity": 1}, &h) {
					continue
				}
				if call(tok, http.MethodPost, "/v1/resources/spa-1/holds/"+h.ID+"/confirm", "", nil, nil) {
					mu.Lock()
					confirmed[h.ID] = addr
					mu.Unlock()
				}
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		k := len(confirmed)
		mu.Unlock()
		// Kill while mails are on their way: some handed off, more being sent.
		if (k >= 40 && len(mail.Messages()) >= 5) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Kill()
	close(stop)
	wg.Wait()
	before := len(mail.Messages())
	if len(confirmed) < 10 {
		t.Fatalf("only %d confirmations acknowledged before the kill", len(confirmed))
	}
	n.Start()
	n.WaitReady(30 * time.Second)

	// A mail the killed process had claimed waits for its claim lease before the restarted
	// node sends it again: the bound covers that.
	until := time.After(notify.DefaultConfig().Lease + 90*time.Second)
	for {
		got := map[string]bool{}
		for _, in := range readInvites(t, mail) {
			if in.method == "REQUEST" {
				got[in.uid] = true
			}
		}
		missing := 0
		for id := range confirmed {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-mail.Arrived:
		case <-time.After(time.Second):
		case <-until:
			t.Fatalf("%d of %d acknowledged confirmations never mailed", missing, len(confirmed))
		}
	}

	// After deduplication by Message-ID, one confirmation per hold, to its customer.
	ids := map[string]map[string]bool{} // hold id -> Message-IDs of its confirmation
	dups := 0
	seen := map[string]bool{}
	for _, in := range readInvites(t, mail) {
		if in.method != "REQUEST" {
			t.Fatalf("unexpected %s invitation for %s", in.method, in.uid)
		}
		if seen[in.messageID] {
			dups++
		}
		seen[in.messageID] = true
		if want, ok := confirmed[in.uid]; ok && in.to != want {
			t.Fatalf("confirmation of %s went to %s, want %s", in.uid, in.to, want)
		}
		if ids[in.uid] == nil {
			ids[in.uid] = map[string]bool{}
		}
		ids[in.uid][in.messageID] = true
	}
	for id, m := range ids {
		if len(m) != 1 {
			t.Errorf("hold %s confirmed under %d Message-IDs", id, len(m))
		}
	}
	t.Logf("%d confirmations acknowledged around kill -9; %d mails before the kill, %d after the restart, %d resent with the same Message-ID",
		len(confirmed), before, len(mail.Messages())-before, dups)
}
