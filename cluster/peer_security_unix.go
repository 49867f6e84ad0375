//go:build unix

package cluster

import (
	"os"
	"slices"
	"syscall"
)

// ownGroup reports whether st's group is this process's group or one of its supplementary
// groups (the fsGroup of a Kubernetes pod).
func ownGroup(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	gid := int(sys.Gid)
	if gid == os.Getgid() {
		return true
	}
	groups, err := os.Getgroups()
	return err == nil && slices.Contains(groups, gid)
}
