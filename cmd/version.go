package cmd

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit may be set at link time (go build -ldflags "-X
// github.com/allot/allot/cmd.version=v1.2.3 -X github.com/allot/allot/cmd.commit=abc123");
// otherwise they come from the build information Go embeds. They are written only by the
// linker.
var version, commit string

// buildInfo is what `allot version` prints.
type buildInfo struct {
	Version, Commit, Go, Platform string
	Modified                      bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.Go = info.GoVersion
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

func runVersion(stdout io.Writer) {
	b := readBuildInfo()
	dirty := ""
	if b.Modified {
		dirty = " (modified)"
	}
	fmt.Fprintf(stdout, "allot %s\ncommit %s%s\n%s %s\n", b.Version, b.Commit, dirty, b.Go, b.Platform)
}
