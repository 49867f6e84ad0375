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

// build is the one allot binary of this test process. It is package state on purpose: the
// binary is shared by every test of the process, whichever package's test asked first.
var build struct {
	once sync.Once
	path string
	file *os.File // keeps an unlinked binary alive (see MustBinary); never closed
	err  error
}

// MustBinary builds ./cmd/allot once per test binary and returns a path that executes it.
// The build is shared by every test of the process (the Go build cache makes later runs
// cheap).
//
// Nothing is left on disk, even when the test process is killed: on Linux the binary is
// opened and its file removed right after the build, and the returned path is
// /proc/<pid>/fd/<n>, which child processes (and `ip netns exec`, and `go tool pprof`) can
// execute and read while this process lives; the kernel frees the file when it exits.
// Elsewhere the binary stays in a temp directory.
func MustBinary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() { build.path, build.file, build.err = buildBinary("./cmd/allot", "allot") })
	if build.err != nil {
		tb.Fatalf("build allot: %v", build.err)
	}
	return build.path
}

// buildBinary builds the Go package pkg (a path in the module, or a main package of a
// module it requires) as name; see MustBinary for where it lives.
func buildBinary(pkg, name string) (string, *os.File, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", name+"-bin-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, out.String())
	}
	f, err := os.Open(bin)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	viaFD := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd())
	if _, err := os.Stat(viaFD); err != nil {
		_ = f.Close()
		return bin, nil, nil // no /proc: keep the file
	}
	if err := os.RemoveAll(dir); err != nil {
		_ = f.Close()
		return "", nil, fmt.Errorf("remove build dir: %w", err)
	}
	return viaFD, f, nil
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
