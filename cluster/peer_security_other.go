//go:build !unix

package cluster

import "os"

// ownGroup: no group ownership to check here; group-readable key files are refused.
func ownGroup(os.FileInfo) bool { return false }
