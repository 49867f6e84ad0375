package cmd

import (
	"testing"
	"testing/fstest"
)

func TestParseMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
		err  bool
	}{
		{"auto", 0, false, false}, {"off", 0, false, false},
		{"1536MiB", 1536 << 20, true, false}, {"2GiB", 2 << 30, true, false}, {"1.5GiB", 3 << 29, true, false},
		{"500MB", 500e6, true, false}, {"134217728", 128 << 20, true, false}, {"128MiB", 128 << 20, true, false},
		{"", 0, false, true}, {"lots", 0, false, true}, {"-1GiB", 0, false, true}, {"1MiB", 0, false, true},
		{"NaN", 0, false, true}, {"1e30", 0, false, true}, {"2 GiB", 2 << 30, true, false},
	} {
		got, ok, err := parseMemoryLimit(c.in)
		if (err != nil) != c.err || ok != c.ok || got != c.want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v, %v; want %d, %v, err %v", c.in, got, ok, err, c.want, c.ok, c.err)
		}
	}
	if err := validateMemoryLimit(""); err == nil {
		t.Error("validateMemoryLimit(\"\") = nil")
	}
}

func TestPlanMemoryLimit(t *testing.T) {
	v2 := fstest.MapFS{
		"proc/self/cgroup":                          {Data: []byte("0::/kubepods/pod1/c1\n")},
		"sys/fs/cgroup/kubepods/pod1/c1/memory.max": {Data: []byte("1073741824\n")},
		"sys/fs/cgroup/memory.max":                  {Data: []byte("max\n")},
	}
	v2root := fstest.MapFS{ // a container's own cgroup namespace: its cgroup is the root
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("536870912\n")},
	}
	v2max := fstest.MapFS{"proc/self/cgroup": {Data: []byte("0::/\n")}, "sys/fs/cgroup/memory.max": {Data: []byte("max\n")}}
	v1 := fstest.MapFS{
		"proc/self/cgroup": {Data: []byte("5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n")},
		"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": {Data: []byte("2147483648\n")},
	}
	v1unlimited := fstest.MapFS{
		"proc/self/cgroup": {Data: []byte("4:memory:/process_api/x\n")},
		"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")},
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, gomemlimit string
		root                   fstest.MapFS
		want                   memoryLimitPlan
	}{
		{"v2 nested", "auto", "", v2, memoryLimitPlan{966367641, "cgroup"}},
		{"v2 root", "auto", "", v2root, memoryLimitPlan{483183820, "cgroup"}},
		{"v2 max", "auto", "", v2max, memoryLimitPlan{0, "none"}},
		{"v1", "auto", "", v1, memoryLimitPlan{1932735283, "cgroup"}},
		{"v1 unlimited", "auto", "", v1unlimited, memoryLimitPlan{0, "none"}},
		{"no cgroup files", "auto", "", fstest.MapFS{}, memoryLimitPlan{0, "none"}},
		{"GOMEMLIMIT wins over auto", "auto", "300MiB", v2, memoryLimitPlan{0, "GOMEMLIMIT"}},
		{"flag wins over GOMEMLIMIT", "700MiB", "300MiB", v2, memoryLimitPlan{700 << 20, "flag"}},
		{"off", "off", "", v2, memoryLimitPlan{0, "off"}},
	} {
		if got := planMemoryLimit(c.flag, env(c.gomemlimit), c.root); got != c.want {
			t.Errorf("%s: planMemoryLimit = %+v, want %+v", c.name, got, c.want)
		}
	}
}
