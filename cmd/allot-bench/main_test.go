package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{{nil, 2}, {[]string{"help"}, 0}, {[]string{"--help"}, 0}, {[]string{"node"}, 2}, {[]string{"baseline", "--kind", "nope"}, 2}} {
		var out, errs bytes.Buffer
		if got := execute(t.Context(), tc.args, &out, &errs); got != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %s)", tc.args, got, tc.code, errs.String())
		}
		if !strings.Contains(out.String()+errs.String(), "allot-bench") && tc.args == nil {
			t.Errorf("no usage text: %q", errs.String())
		}
	}
}

// TestBaselineServes: `allot-bench baseline --kind empty` answers the API until cancelled.
func TestBaselineServes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var errs bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- execute(ctx, []string{"baseline", "--kind", "empty", "--http-addr", "127.0.0.1:0"}, pw, &errs)
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
	resp, err := http.Get(url + "/v1/resources/r/availability")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("availability: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d, stderr %s", c, errs.String())
	}
}
