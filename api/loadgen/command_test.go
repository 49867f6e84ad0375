package loadgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	target := mustFakeAllot(t, &fakeAllot{})
	path := filepath.Join(t.TempDir(), "report.json")
	var out, errs bytes.Buffer
	code := Command(t.Context(), []string{"--target", target, "--clients", "2", "--stock", "5", "--run-id", "cmd",
		"--json", path, "--retries", "1"}, &out, &errs)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s, stdout %s", code, errs.String(), out.String())
	}
	if !strings.Contains(out.String(), "audit OK") || !onlyProgressLines(errs.String()) {
		t.Fatalf("stdout %q, stderr %q: want the report on stdout and at most progress lines on stderr (not a terminal)", out.String(), errs.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RunID   string  `json:"run_id"`
		Sold    int64   `json:"sold"`
		Stock   int64   `json:"stock"`
		Elapsed float64 `json:"elapsed_seconds"`
		Latency map[string]struct {
			Count int64   `json:"count"`
			P99   float64 `json:"p99_ms"`
		} `json:"latency"`
		StatusCodes map[string]int64 `json:"status_codes"`
		Audit       struct {
			OK           bool  `json:"ok"`
			Acknowledged int64 `json:"acknowledged"`
		} `json:"audit"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if rep.RunID != "cmd" || rep.Sold != 5 || rep.Stock != 5 || !rep.Audit.OK || rep.Audit.Acknowledged < 5 ||
		rep.Latency["hold"].Count == 0 || rep.Latency["hold"].P99 <= 0 || rep.StatusCodes["201"] == 0 || rep.Elapsed <= 0 {
		t.Fatalf("json report %s", b)
	}
}

func TestCommandExitCodes(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Command(t.Context(), []string{"--clients", "0"}, &out, &errs); code != ExitUsage {
		t.Errorf("invalid config: exit %d, want %d", code, ExitUsage)
	}
	if code := Command(t.Context(), []string{"--no-such-flag"}, &out, &errs); code != ExitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
	oversell := mustFakeAllot(t, &fakeAllot{oversell: true})
	args := []string{"--target", oversell, "--clients", "2", "--stock", "2", "--requests", "10", "--run-id", "x"}
	if code := Command(t.Context(), args, &out, &errs); code != ExitAuditFailed {
		t.Errorf("oversold: exit %d, want %d; stdout %s", code, ExitAuditFailed, out.String())
	}
	if !strings.Contains(out.String(), "audit FAILED") {
		t.Errorf("stdout lacks audit FAILED: %s", out.String())
	}
	args = append(args[:len(args)-2], "--run-id", "z", "--no-audit")
	out.Reset()
	if code := Command(t.Context(), args, &out, &errs); code != ExitOK || !strings.Contains(out.String(), "audit SKIPPED") {
		t.Errorf("--no-audit: exit %d, want %d; stdout %s", code, ExitOK, out.String())
	}
	down := mustFakeAllot(t, &fakeAllot{})
	args = []string{"--target", down + "/nowhere", "--clients", "1", "--retries", "0", "--run-id", "y"}
	if code := Command(t.Context(), args, &out, &errs); code != ExitFailed {
		t.Errorf("setup failure: exit %d, want %d", code, ExitFailed)
	}
}

// onlyProgressLines reports whether s is nothing but plain progress lines (no terminal
// control sequences).
func onlyProgressLines(s string) bool {
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if l != "" && (!strings.HasPrefix(l, "loadgen: ") || strings.ContainsAny(l, "\r\033")) {
			return false
		}
	}
	return true
}

// TestCommandProgressWhenNotATerminal: stderr is a buffer, so progress comes as one plain
// line per --progress-every; --quiet silences it.
func TestCommandProgressWhenNotATerminal(t *testing.T) {
	target := mustFakeAllot(t, &fakeAllot{})
	args := []string{"--target", target, "--scenario", "browse", "--resources", "2", "--clients", "2",
		"--duration", "500ms", "--think", "5ms", "--progress-every", "100ms", "--no-audit"}
	var out, errs bytes.Buffer
	if code := Command(t.Context(), append(args, "--run-id", "p1"), &out, &errs); code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs.String())
	}
	lines := strings.Count(errs.String(), "\n")
	if lines < 2 || !onlyProgressLines(errs.String()) || !strings.Contains(errs.String(), "ops/s") {
		t.Fatalf("stderr %q: want a progress line every 100ms of a 500ms run", errs.String())
	}
	errs.Reset()
	if code := Command(t.Context(), append(args, "--run-id", "p2", "--quiet"), &out, &errs); code != ExitOK || errs.Len() != 0 {
		t.Fatalf("--quiet: exit %d, stderr %q", code, errs.String())
	}
}

// TestCommandHelp: --help explains the command like `allot node --help` and exits 0.
func TestCommandHelp(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Command(t.Context(), []string{"--help"}, &out, &errs); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: allot loadgen [flags]", "Scenarios (--scenario):", "flash-sale", "hotel", "browse", "mixed",
		"Examples:", "Exit status:", "Flags:", "-progress-every", "-target"} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, errs.String())
		}
	}
}
