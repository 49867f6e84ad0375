package deploy

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envVar is one environment variable of a container: a literal Value, or From naming where
// the platform takes it from ("secret:NAME/KEY", "field:status.podIP", ...).
type envVar struct {
	Name, Value, From string
}

// commandLine is one `allot` invocation resolved the way the binary resolves it: a flag
// given on the command line wins over its ALLOT_ environment variable, which wins over the
// flag's default.
type commandLine struct {
	Sub    string
	flags  *flag.FlagSet
	raw    map[string]string // flag name -> the last string it was set to
	source map[string]string // flag name -> "arg", "env", or the envVar.From it came through
}

// recorder keeps the raw string of every Set: some flag.Values (flag.Func) print nothing.
type recorder struct {
	flag.Value
	name string
	raw  map[string]string
}

func (r recorder) Set(s string) error {
	if err := r.Value.Set(s); err != nil {
		return err
	}
	r.raw[r.name] = s
	return nil
}

func (r recorder) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// kubeVarRef matches the $(VAR) references Kubernetes expands in args.
var kubeVarRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// parseCommandLine parses args (subcommand first) and env with the binary's own flags.
// It fails on an unknown subcommand, an unknown flag, an ALLOT_ variable that is no flag,
// a value the flag rejects, or a $(VAR) reference to a variable the container lacks.
func parseCommandLine(args []string, env []envVar) (*commandLine, error) {
	if len(args) == 0 {
		return nil, errors.New("no subcommand: args must start with node or migrate")
	}
	c := &commandLine{Sub: args[0], raw: map[string]string{}, source: map[string]string{}}
	switch c.Sub {
	case "node":
		c.flags = newNodeFlagSet()
	case "migrate":
		c.flags = newMigrateFlagSet()
	default:
		return nil, fmt.Errorf("unknown subcommand %q", c.Sub)
	}
	envToFlag := map[string]string{}
	c.flags.VisitAll(func(f *flag.Flag) {
		f.Value = recorder{Value: f.Value, name: f.Name, raw: c.raw}
		envToFlag[envName(f.Name)] = f.Name
	})
	byName := map[string]envVar{}
	for _, e := range env {
		byName[e.Name] = e
	}
	// A flag whose whole value is $(VAR) takes VAR's source; any other reference must at
	// least name a variable the container defines, or Kubernetes passes it on verbatim.
	refSource := map[string]string{}
	for _, a := range args[1:] {
		for _, m := range kubeVarRef.FindAllStringSubmatch(a, -1) {
			e, ok := byName[m[1]]
			if !ok {
				return nil, fmt.Errorf("arg %q references $(%s), which the container does not define", a, m[1])
			}
			if name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && value == m[0] {
				refSource[name] = sourceOf(e)
			}
		}
	}
	if err := c.flags.Parse(args[1:]); err != nil {
		return nil, fmt.Errorf("allot %s: %w", c.Sub, err)
	}
	if c.flags.NArg() > 0 {
		return nil, fmt.Errorf("allot %s: unexpected argument %q", c.Sub, c.flags.Arg(0))
	}
	c.flags.Visit(func(f *flag.Flag) {
		c.source[f.Name] = "arg"
		if s, ok := refSource[f.Name]; ok {
			c.source[f.Name] = s
		}
	})
	for _, e := range env {
		if !strings.HasPrefix(e.Name, envName("")) {
			continue
		}
		name, ok := envToFlag[e.Name]
		if !ok {
			return nil, fmt.Errorf("env %s: allot %s reads no such variable (no flag has it as fallback)", e.Name, c.Sub)
		}
		if _, byArg := c.source[name]; byArg {
			continue
		}
		if e.From == "" {
			if err := c.flags.Set(name, e.Value); err != nil {
				return nil, fmt.Errorf("env %s=%q: %w", e.Name, e.Value, err)
			}
		}
		c.source[name] = sourceOf(e)
	}
	return c, nil
}

func sourceOf(e envVar) string {
	if e.From != "" {
		return e.From
	}
	return "env"
}

// Value is the flag's effective value as a string (a value taken from a secret or a field
// reads as the default: it is only known at run time).
func (c *commandLine) Value(name string) string {
	if v, ok := c.raw[name]; ok {
		return v
	}
	if f := c.flags.Lookup(name); f != nil {
		return f.DefValue
	}
	return ""
}

// Source says where the flag's value comes from: "arg", "env", an envVar.From, or "" when
// the default applies.
func (c *commandLine) Source(name string) string { return c.source[name] }

// authProblem says why a node's auth flags would not start it, or "": `allot node` refuses
// an oidc node without an issuer and a cluster member (--db-url or --join) in dev mode
// without the shared --key-file.
func (c *commandLine) authProblem() string {
	single := c.Value("db-url") == "" && c.Value("join") == ""
	switch c.Value("auth") {
	case "oidc":
		if c.Value("oidc-issuer") == "" {
			return "--auth oidc needs --oidc-issuer"
		}
	case "dev":
		if !single && c.Value("key-file") == "" {
			return "--auth dev on a cluster member (--db-url or --join) needs --key-file, the key every node shares"
		}
	default:
		return fmt.Sprintf("--auth %q is neither oidc nor dev", c.Value("auth"))
	}
	return ""
}

// Duration is the flag's value as a duration.
func (c *commandLine) Duration(name string) (time.Duration, error) {
	d, err := time.ParseDuration(c.Value(name))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return d, nil
}

// Port is the port of a host:port (or :port) flag value.
func (c *commandLine) Port(name string) (int, error) {
	_, port, err := splitHostPort(c.Value(name))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return port, nil
}

func splitHostPort(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hostport)
	}
	return host, port, nil
}

// seed is one gossip seed from --join.
type seed struct {
	Host string
	Port int
	DNS  bool // dns:NAME:PORT: every A record of Host is a peer
}

// parseJoin splits a --join value: "dns:NAME:PORT" or a comma list of host:port.
func parseJoin(v string) ([]seed, error) {
	if v == "" {
		return nil, errors.New("--join is empty")
	}
	if rest, ok := strings.CutPrefix(v, "dns:"); ok {
		host, port, err := splitHostPort(rest)
		if err != nil {
			return nil, fmt.Errorf("--join %q: %w", v, err)
		}
		return []seed{{Host: host, Port: port, DNS: true}}, nil
	}
	var seeds []seed
	for _, hp := range strings.Split(v, ",") {
		host, port, err := splitHostPort(strings.TrimSpace(hp))
		if err != nil {
			return nil, fmt.Errorf("--join %q: %w", v, err)
		}
		seeds = append(seeds, seed{Host: host, Port: port})
	}
	return seeds, nil
}

func TestContractFlags(t *testing.T) {
	for _, fs := range []*flag.FlagSet{newNodeFlagSet(), newMigrateFlagSet()} {
		seen := map[string]string{}
		fs.VisitAll(func(f *flag.Flag) {
			env := envName(f.Name)
			if !strings.HasPrefix(env, envName("")) || env == envName("") {
				t.Errorf("%s --%s: env fallback %q lacks the common prefix %q", fs.Name(), f.Name, env, envName(""))
			}
			if other, dup := seen[env]; dup {
				t.Errorf("%s: --%s and --%s share env %s", fs.Name(), f.Name, other, env)
			}
			seen[env] = f.Name
		})
		if fs.Lookup("db-url") == nil {
			t.Errorf("%s has no --db-url", fs.Name())
		}
	}
	for _, p := range []string{healthzPath, readyzPath, metricsPath} {
		if !strings.HasPrefix(p, "/") {
			t.Errorf("path %q does not start with /", p)
		}
	}
}

func TestParseCommandLine(t *testing.T) {
	secret := envVar{Name: "ALLOT_DB_URL", From: "secret:s/db-url"}
	t.Run("precedence", func(t *testing.T) {
		c, err := parseCommandLine(
			[]string{"node", "--http-addr=:9000", "--db-url=$(ALLOT_DB_URL)"},
			[]envVar{secret, {Name: "ALLOT_HTTP_ADDR", Value: ":1"}, {Name: "ALLOT_LEAVE_TIMEOUT", Value: "7s"}, {Name: "HOME", Value: "/"}},
		)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := c.Port("http-addr"); p != 9000 || c.Source("http-addr") != "arg" {
			t.Errorf("http-addr: port %d from %q, want 9000 from arg", p, c.Source("http-addr"))
		}
		if d, _ := c.Duration("leave-timeout"); d != 7*time.Second || c.Source("leave-timeout") != "env" {
			t.Errorf("leave-timeout: %v from %q, want 7s from env", d, c.Source("leave-timeout"))
		}
		if c.Source("db-url") != secret.From {
			t.Errorf("db-url source %q, want %q", c.Source("db-url"), secret.From)
		}
		if p, _ := c.Port("gossip-addr"); p == 0 || c.Source("gossip-addr") != "" {
			t.Errorf("gossip-addr: default port %d from %q", p, c.Source("gossip-addr"))
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		env  []envVar
		want string
	}{
		{"no subcommand", nil, nil, "no subcommand"},
		{"unknown subcommand", []string{"serve"}, nil, "unknown subcommand"},
		{"unknown flag", []string{"node", "--http-port=80"}, nil, "not defined"},
		{"migrate takes no node-only flag", []string{"migrate", "--join=a:1"}, nil, "not defined"},
		{"positional", []string{"node", "extra"}, nil, "unexpected argument"},
		{"unknown env", []string{"node"}, []envVar{{Name: "ALLOT_HTTP_PORT", Value: "80"}}, "ALLOT_HTTP_PORT"},
		{"bad env value", []string{"node"}, []envVar{{Name: "ALLOT_LEAVE_TIMEOUT", Value: "soon"}}, "ALLOT_LEAVE_TIMEOUT"},
		{"undefined reference", []string{"migrate", "--db-url=$(DB)"}, nil, "does not define"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCommandLine(tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParseJoin(t *testing.T) {
	got, err := parseJoin("dns:allot-peers:7946")
	if err != nil || len(got) != 1 || !got[0].DNS || got[0].Host != "allot-peers" || got[0].Port != 7946 {
		t.Errorf("dns join: %+v, %v", got, err)
	}
	got, err = parseJoin("a:1,b:2")
	if err != nil || len(got) != 2 || got[1] != (seed{Host: "b", Port: 2}) {
		t.Errorf("list join: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "dns:allot-peers", "a:1,b", "a:http"} {
		if _, err := parseJoin(bad); err == nil {
			t.Errorf("parseJoin(%q) accepted", bad)
		}
	}
}
