package activation

import (
	"testing"
	"unsafe"
)

// TestCoreKeepsItsSizeClass: one Core lives per active resource, so its size is memory per
// resource. It fits the runtime's 768-byte allocation class; a field more moves every core to
// the 896-byte class (a sixth more), which should be a decision, not an accident.
func TestCoreKeepsItsSizeClass(t *testing.T) {
	// An object over 512 bytes with pointers carries an 8-byte header of the allocator's.
	if size := unsafe.Sizeof(Core{}) + 8; size > 768 {
		t.Fatalf("Core is %d bytes with its allocation header, over the 768-byte allocation class", size)
	}
}
