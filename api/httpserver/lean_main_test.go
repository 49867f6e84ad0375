package httpserver

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// leanMode makes serve put the fast path (Lean) in front of the server: TestMain runs every
// test of the package twice, once on net/http alone and once through Lean, so that the
// timeouts, caps and limits are checked on both (issue 17, round 15).
var leanMode bool

func TestMain(m *testing.M) {
	code := m.Run()
	if f := flag.Lookup("test.fuzz"); code != 0 || (f != nil && f.Value.String() != "") {
		os.Exit(code) // a fuzzing run fuzzes once
	}
	fmt.Println("httpserver: the same tests through the fast path (Lean)")
	leanMode = true
	os.Exit(m.Run())
}
