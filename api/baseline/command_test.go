package baseline

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var errs bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- Command(ctx, []string{"--kind", "empty", "--http-addr", "127.0.0.1:0"}, pw, &errs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (stderr %s)", err, errs.String())
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " listening on ")
	if !ok {
		t.Fatalf("line %q", line)
	}
	if a := call(t, http.MethodGet, url+"/v1/resources/r/availability", "", "", nil); a.Status != http.StatusOK {
		t.Fatalf("availability: %d %s", a.Status, a.Body)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d, stderr %s", c, errs.String())
	}
}

func TestCommandRejectsBadConfig(t *testing.T) {
	for _, args := range [][]string{
		{"--kind", "memcached"},
		{"--kind", "classic"}, // no --db-url
		{"--kind", "redis", "--redis-addr", ""},
		{"--no-such-flag"},
	} {
		var out, errs bytes.Buffer
		if c := Command(t.Context(), args, &out, &errs); c != 2 {
			t.Errorf("%q: exit %d, want 2", args, c)
		}
	}
}

func TestServerCloseTwice(t *testing.T) {
	s, err := Serve("127.0.0.1:0", NewEmpty())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(s.URL() + "/v1/resources/r/availability"); err == nil {
		t.Fatal("still serving after Close")
	}
}
