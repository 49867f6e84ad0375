// Package clustertest runs real `allot node` processes on 127.0.0.1 for end-to-end and fault
// tests: it builds the binary once per test binary, starts nodes on free ports, kills, stops
// and restarts them, and talks to them over HTTP.
package clustertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// MustBinary builds ./cmd/allot once per test binary and returns the executable's path. The
// build is shared by every test of the process (the Go build cache makes later runs cheap).
func MustBinary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "allot-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "allot")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/allot")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/allot: %v\n%s", err, out.String())
		}
	})
	if build.err != nil {
		tb.Fatalf("build allot: %v", build.err)
	}
	return build.path
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the allot module")
	}
	return filepath.Dir(mod), nil
}
