package pgtest

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// orphanGrace is how old a directory without owner.pid must be before it counts as left over
// (a server being set up right now has not written it yet).
const orphanGrace = 10 * time.Minute

// removeOrphans stops the servers and removes the directories that test binaries which died
// without cleaning up left in tmp. Best effort: errors are ignored.
func removeOrphans(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, tempPattern+"*"))
	for _, dir := range dirs {
		if !orphaned(dir) {
			continue
		}
		if pid, ok := postmasterPID(filepath.Join(dir, "data")); ok {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
		_ = os.RemoveAll(dir)
	}
}

// orphaned reports whether the test binary that created dir is gone.
func orphaned(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		fi, err := os.Stat(dir)
		return err == nil && time.Since(fi.ModTime()) > orphanGrace
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	return !alive(pid)
}

// postmasterPID reads the pid in data/postmaster.pid and checks it is a live postgres (the
// pid may have been reused since).
func postmasterPID(dataDir string) (int, bool) {
	f, err := os.Open(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0, false
	}
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return 0, false
	}
	return pid, true
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true // no /proc: trust kill
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
