package deploy

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerStage is one FROM section of a Dockerfile: its base image and its instructions,
// continuation lines joined.
type dockerStage struct {
	From         string
	Instructions []string // "ENV ...", "RUN ...", ...
}

func parseDockerfile(src string) []dockerStage {
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		if op, rest, _ := strings.Cut(line, " "); strings.EqualFold(op, "FROM") {
			var base string
			for _, f := range strings.Fields(rest) {
				if !strings.HasPrefix(f, "--") {
					base = f
					break
				}
			}
			stages = append(stages, dockerStage{From: base})
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, line)
		}
	}
	for _, line := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

var goBuildAllot = regexp.MustCompile(`go build [^\n]*\./cmd/allot(\s|$)`)

// checkDockerfile wants a multi-stage static build of ./cmd/allot that fetches nothing but
// Go modules, and a minimal non-root final image that exposes the node's default ports.
func checkDockerfile(src string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	stages := parseDockerfile(src)
	if len(stages) < 2 {
		return []error{fmt.Errorf("want a multi-stage build, got %d stages", len(stages))}
	}
	build, final := strings.Join(stages[0].Instructions, "\n"), stages[len(stages)-1]
	if !strings.Contains(build, "CGO_ENABLED=0") {
		fail("build stage: CGO_ENABLED=0 missing: the binary must be static")
	}
	if !goBuildAllot.MatchString(build) {
		fail("build stage: no `go build ... ./cmd/allot`")
	}
	for _, banned := range []string{"curl ", "wget ", "git clone", "GOPROXY=", "apt-get", "apk add"} {
		if strings.Contains(build, banned) {
			fail("build stage: %q fetches from outside the Go module proxy", banned)
		}
	}
	if !strings.HasPrefix(final.From, "gcr.io/distroless/static") && final.From != "scratch" {
		fail("final stage: base %q, want distroless static or scratch", final.From)
	}
	var user, entrypoint, cmd string
	var exposed []string
	for _, in := range final.Instructions {
		op, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(op) {
		case "USER":
			user = strings.TrimSpace(rest)
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(rest)...)
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		fail("final stage: USER %q, want a non-root user", user)
	}
	if !strings.Contains(entrypoint, "allot") || !strings.Contains(cmd, `"node"`) {
		fail("final stage: ENTRYPOINT %s CMD %s, want the allot binary running node", entrypoint, cmd)
	}
	defaults := newNodeFlagSet()
	for _, want := range []struct{ flag, proto string }{
		{"http-addr", "tcp"}, {"gossip-addr", "tcp"}, {"gossip-addr", "udp"}, {"remote-addr", "tcp"}, {"admin-addr", "tcp"},
	} {
		_, port, err := net.SplitHostPort(defaults.Lookup(want.flag).DefValue)
		if err != nil {
			fail("--%s default: %v", want.flag, err)
			continue
		}
		if p := port + "/" + want.proto; !slices.Contains(exposed, p) {
			fail("final stage: EXPOSE %v lacks %s (default --%s)", exposed, p, want.flag)
		}
	}
	return errs
}

func TestDockerfile(t *testing.T) {
	for _, err := range checkDockerfile(mustReadFile(t, "Dockerfile")) {
		t.Error(err)
	}
}

func TestDockerfileCatchesBreakage(t *testing.T) {
	src := mustReadFile(t, "Dockerfile")
	for _, tc := range []struct{ name, old, new, want string }{
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"root", "USER 65532:65532", "USER root", "non-root"},
		{"full OS base", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm", "want distroless"},
		{"no UDP gossip", "7946/udp", "", "7946/udp"},
		{"wrong package", "./cmd/allot \\", "./cmd/allotd \\", "./cmd/allot`"},
		{"other proxy", "GOTOOLCHAIN=local", "GOPROXY=direct", "GOPROXY="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := strings.Count(src, tc.old); n != 1 {
				t.Fatalf("%q occurs %d times in the Dockerfile, want once", tc.old, n)
			}
			if errs := checkDockerfile(strings.Replace(src, tc.old, tc.new, 1)); !mentions(errs, tc.want) {
				t.Errorf("want an error mentioning %q, got %v", tc.want, errs)
			}
		})
	}
}
