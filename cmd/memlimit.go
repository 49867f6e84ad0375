package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The node's --memory-limit: the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit).
//
// Why: with the runtime's defaults (GOGC=100, no limit) the heap grows to twice the live heap
// before a collection, and the runtime keeps the freed pages for a while; a node's resident
// memory is then about twice its live bytes (docs/PERFORMANCE.md, round 9). In a container
// with a memory limit that headroom is what gets the process killed: with a soft limit under
// the container's, the runtime collects more often as the heap nears it (and returns freed
// pages to the OS sooner) instead of growing past it. The limit costs nothing until the heap
// nears it; near it, GC CPU grows (the runtime caps it at about half the CPU).
const (
	MemoryLimitAuto = "auto" // a share of the cgroup's memory limit, if there is one
	MemoryLimitOff  = "off"  // the runtime's own (GOMEMLIMIT, or none)

	// memoryLimitShare is the share of the cgroup's limit the auto limit takes: the rest is
	// for what the Go runtime does not count (the embedded SQLite's page caches, the binary's
	// pages) and for the overshoot of a soft limit.
	memoryLimitShare = 0.9
	// minMemoryLimit is the smallest limit accepted: an idle node is about 80 MiB resident.
	minMemoryLimit = 64 << 20
	// unlimitedCgroup is the value from which a cgroup v1 limit means none (the kernel
	// reports PAGE_COUNTER_MAX pages, about 2^63).
	unlimitedCgroup = 1 << 62
)

// parseMemoryLimit parses --memory-limit: auto, off, or a size in bytes with an optional
// suffix KiB, MiB, GiB or TiB (binary) or KB, MB, GB, TB (decimal). ok is false for auto
// and off.
func parseMemoryLimit(s string) (bytes int64, ok bool, err error) {
	switch s {
	case MemoryLimitAuto, MemoryLimitOff:
		return 0, false, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if n, cut := strings.CutSuffix(s, u.suffix); cut {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0, false, fmt.Errorf("--memory-limit: want auto, off or a size such as 1536MiB or 2GiB, got %q", s)
	}
	b := v * float64(mult)
	if b < minMemoryLimit || b > math.MaxInt64/2 {
		return 0, false, fmt.Errorf("--memory-limit: %q is outside 64MiB..4EiB", s)
	}
	return int64(b), true, nil
}

// memoryLimitPlan is what the node does with the runtime's memory limit.
type memoryLimitPlan struct {
	Bytes  int64  // the limit to set; 0: leave the runtime's
	Source string // why: "flag", "cgroup", "GOMEMLIMIT", "off", "none"
}

// planMemoryLimit decides the node's memory limit from --memory-limit, the GOMEMLIMIT
// environment variable (getenv) and the cgroup files under root (os.DirFS("/") in
// production). An explicit --memory-limit size wins; auto defers to GOMEMLIMIT when it is
// set (the operator's choice, already applied by the runtime), else takes
// memoryLimitShare of the cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes, of the
// process's own cgroup or the mount's root), else sets none. It never fails: an unreadable
// cgroup is no limit.
func planMemoryLimit(flag string, getenv func(string) string, root fs.FS) memoryLimitPlan {
	if b, ok, err := parseMemoryLimit(flag); err == nil && ok {
		return memoryLimitPlan{Bytes: b, Source: "flag"}
	}
	switch {
	case flag == MemoryLimitOff:
		return memoryLimitPlan{Source: "off"}
	case getenv("GOMEMLIMIT") != "":
		return memoryLimitPlan{Source: "GOMEMLIMIT"}
	}
	if c, ok := cgroupMemoryLimit(root); ok {
		return memoryLimitPlan{Bytes: int64(float64(c) * memoryLimitShare), Source: "cgroup"}
	}
	return memoryLimitPlan{Source: "none"}
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup: the first of v2's
// memory.max and v1's memory.limit_in_bytes found in the process's own cgroup directory
// (/proc/self/cgroup) or at the mount's root (a container's own namespace). "max" or a v1
// value of about 2^63 is no limit.
func cgroupMemoryLimit(root fs.FS) (int64, bool) {
	var v2, v1 string // the process's cgroup paths
	if b, err := fs.ReadFile(root, "proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2 = parts[2]
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				v1 = parts[2]
			}
		}
	}
	var candidates []string
	if v2 != "" {
		candidates = append(candidates, path.Join("sys/fs/cgroup", v2, "memory.max"))
	}
	candidates = append(candidates, "sys/fs/cgroup/memory.max")
	if v1 != "" {
		candidates = append(candidates, path.Join("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"))
	}
	candidates = append(candidates, "sys/fs/cgroup/memory/memory.limit_in_bytes")
	for _, c := range candidates {
		b, err := fs.ReadFile(root, c)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 || v >= unlimitedCgroup {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// validateMemoryLimit is NodeConfig.validate's check of --memory-limit.
func validateMemoryLimit(s string) error {
	if s == "" {
		return errors.New("--memory-limit is required: auto, off or a size")
	}
	_, _, err := parseMemoryLimit(s)
	return err
}
