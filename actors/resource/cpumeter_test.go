package resource

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/persistence/pgtest"
)

// cpuMeter accounts the CPU a benchmark's timed part costs, so that the harness can tell a
// CPU-bound run from one that waits: this process's (rusage: the actor, the store's client
// and the calling goroutines, which are the load generator here) and, when the PostgreSQL
// server is a local pgtest one, its backends' (the postmaster's children, from
// /proc/PID/stat; 10 ms ticks, so runs shorter than a second are coarse). Backends and
// autovacuum workers that exit during the timed part count through the postmaster's reaped
// time (without it, a backend of an earlier benchmark's pool that closed during the timed
// part took its whole CPU time out of the difference).
type cpuMeter struct {
	postmaster int // 0: the database's CPU is not reachable
	self, db   time.Duration
}

// startCPU takes the first reading; srv may be nil (no database).
func startCPU(srv *pgtest.Server) *cpuMeter {
	m := &cpuMeter{}
	if srv != nil {
		if pid, ok := srv.PostmasterPID(); ok {
			m.postmaster = pid
		}
	}
	m.self, m.db = processCPU(), m.dbCPU()
	return m
}

// report ends the measurement over n holds and reports cpu-µs/hold (this process) and, when
// readable, db-cpu-µs/hold (the PostgreSQL backends).
func (m *cpuMeter) report(b *testing.B, n int) {
	self, db := processCPU()-m.self, m.dbCPU()-m.db
	if n <= 0 {
		return
	}
	b.ReportMetric(float64(self.Microseconds())/float64(n), "cpu-µs/hold")
	if m.postmaster != 0 {
		b.ReportMetric(float64(db.Microseconds())/float64(n), "db-cpu-µs/hold")
	}
}

func (m *cpuMeter) dbCPU() time.Duration {
	if m.postmaster == 0 {
		return 0
	}
	return childrenCPU(m.postmaster)
}

// processCPU is this process's user and system time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU sums the user and system time of parent, its live children and the children
// it reaped (cutime + cstime: the kernel adds an exited child's CPU to its parent's when the
// parent waits for it, as the postmaster does).
func childrenCPU(parent int) time.Duration {
	total := reapedCPU(parent)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, cpu, err := procStat(pid); err == nil && (ppid == parent || pid == parent) {
			total += cpu
		}
	}
	return total
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procStat returns the parent and the CPU time (user + system) of pid.
func procStat(pid int) (ppid int, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// reapedCPU is the CPU time of pid's children that exited and were waited for.
func reapedCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0
	}
	cutime, _ := strconv.ParseInt(f[13], 10, 64)
	cstime, _ := strconv.ParseInt(f[14], 10, 64)
	return time.Duration(cutime+cstime) * time.Second / clockTicks
}
