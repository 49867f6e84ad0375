package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

// benchProc is one server process of the benchmark: an `allot node` or an
// `allot-bench baseline`.
type benchProc struct {
	Name  string
	Args  []string // argv without the binary
	URL   string   // HTTP base URL
	Admin string   // a node's admin listener (/metrics, /debug/pprof/); "" otherwise
	// KeyFile is a node's dev signing key (--key-file); "" otherwise.
	KeyFile string
	// Gossip is a node's gossip address (the seed the other nodes join).
	Gossip string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// startBenchProc starts bin with args, its output in dir/<name>.log, and stops it (SIGTERM,
// then SIGKILL) when tb ends. It does not wait for readiness.
func startBenchProc(tb testing.TB, bin, dir, name string, args []string) *benchProc {
	tb.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	p := &benchProc{Name: name, Args: args, exited: make(chan struct{}), log: logf}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// The server dies with the benchmark even if cleanup never runs.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	tb.Cleanup(p.stop)
	return p
}

// startBenchNode starts `allot node` on free 127.0.0.1 ports with its admin listener, in dev
// auth mode with the shared signing key keyFile, plus extra flags (the store, --join, ...),
// and waits until it is ready.
func startBenchNode(tb testing.TB, bin, dir, name, keyFile string, extra ...string) *benchProc {
	tb.Helper()
	port := func() string { return "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(tb, "127.0.0.1")) }
	httpAddr, gossip, remote, adminAddr := port(), port(), port(), port()
	args := append([]string{"node", "--http-addr", httpAddr, "--gossip-addr", gossip, "--remote-addr", remote,
		"--advertise-addr", "127.0.0.1", "--admin-addr", adminAddr, "--node-name", name, "--key-file", keyFile, "--log-level", "warn",
		// Every simulated client connects from 127.0.0.1: the per-IP connection cap (256 by
		// default) would refuse the 256-client runs' audit connections and measure the cap.
		"--max-conns-per-ip", "0"}, extra...)
	// Rate limits on, with budgets a closed-loop simulated client (far faster than a person)
	// never reaches: the benchmark measures their cost, not their refusals. The memory
	// benchmark activates more resources than the default --max-active-resources.
	args = append(args, clustertest.LoadRateLimitArgs()...)
	args = append(args, "--max-active-resources", "0")
	p := startBenchProc(tb, bin, dir, name, args)
	p.URL, p.Admin, p.Gossip, p.KeyFile = "http://"+httpAddr, "http://"+adminAddr, gossip, keyFile
	p.waitHTTP(tb, "/readyz", func(code int) bool { return code == http.StatusOK })
	return p
}

// startBenchBaseline starts `allot-bench baseline --kind kind` (bin is allot-bench) on a free
// port and waits until it answers HTTP.
func startBenchBaseline(tb testing.TB, bin, dir, kind string, extra ...string) *benchProc {
	tb.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(tb, "127.0.0.1"))
	args := append([]string{"baseline", "--kind", kind, "--http-addr", addr}, extra...)
	p := startBenchProc(tb, bin, dir, "baseline-"+kind, args)
	p.URL = "http://" + addr
	// Any answer means it serves (an unknown resource is a 404 problem).
	p.waitHTTP(tb, "/v1/resources/none/availability", func(code int) bool { return code > 0 })
	return p
}

// mustBuild builds the command in pkg (relative to the module root) into a directory that
// is removed when tb ends, and returns the executable's path.
func mustBuild(tb testing.TB, root, pkg string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// waitHTTP polls path until ok accepts the status, failing tb after a minute or when the
// process exits.
func (p *benchProc) waitHTTP(tb testing.TB, path string, ok func(int) bool) {
	tb.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			tb.Fatalf("%s exited before it served; log %s:\n%s", p.Name, p.log.Name(), tail(p.log.Name(), 30))
		default:
		}
		if resp, err := c.Get(p.URL + path); err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // readiness poll: the process signals nothing else
	}
	tb.Fatalf("%s not serving %s after a minute; log %s:\n%s", p.Name, path, p.log.Name(), tail(p.log.Name(), 30))
}

// PID is the process id.
func (p *benchProc) PID() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 30s, then SIGKILL. Safe twice.
func (p *benchProc) stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.log.Close()
}

// CommandLine is the process's command line with the binary named by its base name (allot or
// allot-bench).
func (p *benchProc) CommandLine() string {
	return filepath.Base(p.cmd.Path) + " " + strings.Join(p.Args, " ")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procStat returns the parent and the CPU time (user + system) of pid.
func procStat(pid int) (ppid int, cpu time.Duration, err error) {
	ppid, cpu, _, err = procStatReaped(pid)
	return ppid, cpu, err
}

// procStatReaped is procStat plus the CPU time of pid's children that exited and pid
// waited for (cutime + cstime): the kernel adds a child's whole CPU time to its parent's
// when the parent reaps it.
func procStatReaped(pid int) (ppid int, cpu, reaped time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// pid (comm) state ppid pgrp ... ; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, _ = strconv.Atoi(f[1])
	ticks := func(j int) time.Duration {
		n, _ := strconv.ParseInt(f[j], 10, 64)
		return time.Duration(n) * time.Second / clockTicks
	}
	return ppid, ticks(11) + ticks(12), ticks(13) + ticks(14), nil
}

// cpuOf sums the CPU time of pids and of every child of parents (a PostgreSQL server's
// backends, autovacuum workers and the rest, which are the postmaster's children; they are
// not in its process group), the children that exited included: a parent's reaped time
// holds those. Without it a child that exits between two snapshots (an autovacuum worker,
// a closed connection's backend) took its whole CPU time out of the difference, and one
// that came and went in between was not counted: that swung PostgreSQL's CPU per hold by
// ±15 µs between runs of the same SQL (docs/PERFORMANCE.md, round 12).
func cpuOf(pids, parents []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if _, cpu, err := procStat(pid); err == nil {
			total += cpu
		}
	}
	if len(parents) == 0 {
		return total
	}
	want := map[int]bool{}
	for _, p := range parents {
		want[p] = true
		if _, _, reaped, err := procStatReaped(p); err == nil {
			total += reaped
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, cpu, err := procStat(pid); err == nil && want[ppid] {
			total += cpu
		}
	}
	return total
}

// selfCPU is the CPU time of this process: the load generator (and nothing else busy).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time the whole machine spent busy (every process, this benchmark's
// and anyone else's), from the first line of /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first) // cpu user nice system idle iowait irq softirq steal ...
	var ticks int64
	for i, v := range f {
		if i == 0 || i == 4 || i == 5 || i > 8 { // the label, idle, iowait, guest (counted in user)
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// vmRSS reads VmRSS of pid from /proc/PID/status, in bytes.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// postmasterPID is the pid of the PostgreSQL server whose log is at logPath (pgtest keeps
// its data directory next to the log); its backends are its children.
func postmasterPID(logPath string) (int, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(logPath), "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// redisPID finds the redis-server listening on addr (host:port): redis-server names itself
// "redis-server host:port" in its command line.
func redisPID(addr string) (int, error) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) != "redis-server" {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), addr) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no redis-server process for %s", addr)
}

// scrapeMetrics reads the Prometheus text exposition of url and returns the value of each
// sample line whose name (labels included) is in names.
func scrapeMetrics(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// fetchTo GETs url into path.
func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
