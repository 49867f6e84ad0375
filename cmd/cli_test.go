package cmd

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDrainOnSignals: a second signal during the drain is ignored, the drain finishes and its
// result is returned; a third exits at once with status 1.
func TestDrainOnSignals(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	sigs := make(chan os.Signal, 4)
	release := make(chan struct{})
	drained := make(chan struct{})
	drain := func() error { <-release; close(drained); return nil }
	exited := -1
	done := make(chan error, 1)
	go func() {
		done <- drainOnSignals(syscall.SIGINT, sigs, drain, func(c int) { exited = c }, log, time.Second)
	}()
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		t.Fatalf("returned on the second signal: %v", err)
	case <-time.After(100 * time.Millisecond): // give a wrong implementation the chance to return
	}
	close(release)
	if err := <-done; err != nil || exited != -1 {
		t.Fatalf("drain result %v, exit %d; want nil and no exit", err, exited)
	}
	if !strings.Contains(logs.String(), "second signal during the drain") {
		t.Fatalf("second signal not logged:\n%s", logs.String())
	}

	// Third signal: exit(1) without waiting for the drain.
	sigs = make(chan os.Signal, 4)
	block := make(chan struct{})
	defer close(block)
	sigs <- syscall.SIGTERM
	sigs <- syscall.SIGINT
	err := drainOnSignals(syscall.SIGINT, sigs, func() error { <-block; return nil }, func(c int) { exited = c }, log, time.Second)
	if !errors.Is(err, errInterrupted) || exited != 1 {
		t.Fatalf("third signal: err %v exit %d, want errInterrupted and exit 1", err, exited)
	}
}

func execute(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Execute(args, &o, &e)
	return code, o.String(), e.String()
}

// TestUsageErrorsExit2 checks that the same kind of mistake exits 2 in every command and
// prints that command's usage.
func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage string // a line of the command's usage that must be printed
	}{
		{[]string{"node", "--no-such-flag"}, "Usage: allot node"},
		{[]string{"node", "--lease", "soon"}, "Usage: allot node"},
		{[]string{"node", "--lease", "1s", "--max-clock-offset", "1s"}, "Usage: allot node"},
		{[]string{"node", "stray"}, "Usage: allot node"},
		{[]string{"migrate", "--no-such-flag"}, "Usage: allot migrate"},
		{[]string{"migrate", "--timeout", "soon"}, "Usage: allot migrate"},
		{[]string{"migrate"}, "Usage: allot migrate"},
		{[]string{"loadgen", "--no-such-flag"}, "loadgen"},
		{[]string{"no-such-command"}, "Usage:"},
	} {
		code, _, stderr := execute(tc.args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", tc.args, code, stderr)
		}
		if !strings.Contains(stderr, tc.usage) {
			t.Errorf("%q: usage not printed:\n%s", tc.args, stderr)
		}
	}
	if code, _, _ := execute("node", "--help"); code != 0 {
		t.Errorf("node --help: exit %d", code)
	}
	code, stdout, _ := execute("help")
	if code != 0 || !strings.Contains(stdout, "2  usage error") {
		t.Errorf("help does not document the exit codes:\n%s", stdout)
	}
}

// TestMigrateHelpCitesItsOwnFlags: migrate's help must not name a flag it does not have.
func TestMigrateHelpCitesItsOwnFlags(t *testing.T) {
	_, _, stderr := execute("migrate", "--help")
	for _, line := range strings.Split(stderr, "\n") {
		for _, word := range strings.Fields(line) {
			word = strings.Trim(word, ",.():")
			if name, ok := strings.CutPrefix(word, "--"); ok && name != "db-url" && name != "timeout" {
				t.Errorf("migrate --help cites --%s: %q", name, line)
			}
			if env, ok := strings.CutPrefix(word, "ALLOT_"); ok && env != "DB_URL" && env != "TIMEOUT" && env != "<FLAG>" {
				t.Errorf("migrate --help cites ALLOT_%s: %q", env, line)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := execute("version")
	if code != 0 || !strings.HasPrefix(stdout, "allot ") || !strings.Contains(stdout, runtime.Version()) || !strings.Contains(stdout, "commit ") {
		t.Fatalf("version: exit %d\n%s", code, stdout)
	}
}
