package deploy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose format deploy/compose.yaml uses. Service keys are
// decoded strictly, so a misspelt key fails; add a field here when you use a new one.
type composeFile struct {
	Services map[string]composeService
}

type composeService struct {
	Image       string            `json:"image"`
	Build       *composeBuild     `json:"build"`
	Entrypoint  []string          `json:"entrypoint"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck     json.RawMessage `json:"healthcheck"`
	Restart         string          `json:"restart"`
	StopGracePeriod string          `json:"stop_grace_period"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

// parseCompose decodes a compose file; top-level keys other than services (name, volumes,
// x- extensions) are not checked.
func parseCompose(data []byte) (*composeFile, error) {
	var top map[string]json.RawMessage
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	f := &composeFile{}
	if err := yaml.UnmarshalStrict(top["services"], &f.Services); err != nil {
		return nil, fmt.Errorf("compose services: %w", err)
	}
	return f, nil
}

// isAllot says whether a service runs the Allot image built from deploy/Dockerfile.
func (s composeService) isAllot() bool {
	return s.Build != nil && strings.HasSuffix(s.Build.Dockerfile, "deploy/Dockerfile")
}

func (s composeService) env() []envVar {
	var env []envVar
	for k, v := range s.Environment {
		env = append(env, envVar{Name: k, Value: v})
	}
	sort.Slice(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	return env
}

// checkCompose checks that every Allot command line and ALLOT_ variable names a real flag,
// and that the three nodes find each other, drain in time and publish their HTTP edges.
func checkCompose(f *composeFile) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	nodes := map[string]*commandLine{}
	var migrators []string
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		if !s.isAllot() {
			continue
		}
		if len(s.Entrypoint) > 0 {
			fail("service %s: entrypoint overrides the allot binary", name)
			continue
		}
		cl, err := parseCommandLine(s.Command, s.env())
		if err != nil {
			fail("service %s: %v", name, err)
			continue
		}
		switch cl.Sub {
		case "node":
			nodes[name] = cl
		case "migrate":
			migrators = append(migrators, name)
		}
		if !strings.HasPrefix(cl.Value("db-url"), "postgresql://") {
			fail("service %s: --db-url %q is not a postgresql:// URL", name, cl.Value("db-url"))
		}
	}
	if len(nodes) < 3 {
		fail("want at least three allot node services, got %d", len(nodes))
	}
	if len(migrators) != 1 {
		fail("want one allot migrate service, got %v", migrators)
	}
	hostPorts := map[string]string{}
	for _, name := range sortedKeys(nodes) {
		s, cl := f.Services[name], nodes[name]
		seeds, err := parseJoin(cl.Value("join"))
		if err != nil {
			fail("service %s: %v", name, err)
		}
		joined := map[string]bool{}
		for _, sd := range seeds {
			peer, ok := nodes[sd.Host]
			if !ok {
				fail("service %s: --join seed %s is not an allot node service", name, sd.Host)
				continue
			}
			if p, _ := peer.Port("gossip-addr"); p != sd.Port {
				fail("service %s: --join seed %s:%d, but %s gossips on %d", name, sd.Host, sd.Port, sd.Host, p)
			}
			joined[sd.Host] = true
		}
		if len(joined) != len(nodes) {
			fail("service %s: --join must list every node (%v) so any start order forms one cluster", name, sortedKeys(nodes))
		}
		if p := cl.authProblem(); p != "" {
			fail("service %s: %s", name, p)
		}
		if adv := cl.Value("advertise-addr"); adv != name {
			fail("service %s: --advertise-addr %q, want the service name", name, adv)
		}
		if v := cl.Value("gossip-key"); v != "" {
			if key, err := base64.StdEncoding.DecodeString(v); err != nil || !slices.Contains([]int{16, 24, 32}, len(key)) {
				fail("service %s: gossip key is not base64 of 16, 24 or 32 bytes", name)
			}
		}
		errs = append(errs, checkComposeKeyFiles(f, name, cl)...)
		if v := cl.Value("contacts"); v != "on" {
			fail("service %s: --contacts is %q, want on: a node that loses its data key ring must refuse to start, not go on refusing every guest contact (auto)", name, v)
		}
		leave, err := cl.Duration("leave-timeout")
		if err != nil {
			fail("service %s: %v", name, err)
		}
		if grace, err := time.ParseDuration(s.StopGracePeriod); err != nil || grace <= leave {
			fail("service %s: stop_grace_period %q must exceed --leave-timeout %v", name, s.StopGracePeriod, leave)
		}
		httpPort, err := cl.Port("http-addr")
		if err != nil {
			fail("service %s: %v", name, err)
		}
		published := false
		for _, p := range s.Ports {
			parts := strings.Split(strings.TrimSuffix(p, "/tcp"), ":")
			if target, err := strconv.Atoi(parts[len(parts)-1]); err != nil || target != httpPort || len(parts) < 2 {
				fail("service %s: port %q does not publish the http port %d (--http-addr)", name, p, httpPort)
				continue
			}
			published = true
			host := strings.Join(parts[:len(parts)-1], ":")
			if other, dup := hostPorts[host]; dup {
				fail("services %s and %s both publish %s", other, name, host)
			}
			hostPorts[host] = name
		}
		if !published {
			fail("service %s: HTTP edge not published", name)
		}
		for _, m := range migrators {
			if s.DependsOn[m].Condition != "service_completed_successfully" {
				fail("service %s: must depend on %s with condition service_completed_successfully", name, m)
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mustReadFile(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

func TestCompose(t *testing.T) {
	f, err := parseCompose([]byte(mustReadFile(t, "compose.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkCompose(f) {
		t.Error(err)
	}
}

func TestComposeCatchesBreakage(t *testing.T) {
	src := mustReadFile(t, "compose.yaml")
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown flag", `"--advertise-addr=allot-2"`, `"--advertize-addr=allot-2"`, "not defined"},
		{"unknown env", "ALLOT_LOG_LEVEL: info", "ALLOT_VERBOSITY: debug", "ALLOT_VERBOSITY"},
		{"migrate with a node flag", `command: ["migrate"]`, `command: ["migrate", "--join=allot-1:7946"]`, "not defined"},
		{"misspelt compose key", "stop_grace_period: 30s", "stop_grace_periods: 30s", "unknown field"},
		{"seed on the wrong port", `"--join=allot-1:7946,allot-2:7946,allot-3:7946"]
    ports:
      - "127.0.0.1:8081:8080"`, `"--join=allot-1:7946,allot-2:7964,allot-3:7946"]
    ports:
      - "127.0.0.1:8081:8080"`, "allot-2 gossips on 7946"},
		{"seed missing", `"--join=allot-1:7946,allot-2:7946,allot-3:7946"]
    ports:
      - "127.0.0.1:8083:8080"`, `"--join=allot-1:7946,allot-3:7946"]
    ports:
      - "127.0.0.1:8083:8080"`, "must list every node"},
		{"killed before leaving", "stop_grace_period: 30s", "stop_grace_period: 10s", "stop_grace_period"},
		{"bad gossip key", "ALLOT_LOG_LEVEL: info\n    #", "ALLOT_LOG_LEVEL: info\n    ALLOT_GOSSIP_KEY: AAfy5P\n    #", "gossip key"},
		{"secrets writable", "allot-secrets:/etc/allot:ro", "allot-secrets:/etc/allot", "read-only"},
		{"no peer mTLS", "    ALLOT_PEER_CA: /etc/allot/peer/ca.crt\n", "", "--peer-ca is not set"},
		{"key file outside the volume", "ALLOT_PEER_KEY: /etc/allot/peer/tls.key", "ALLOT_PEER_KEY: /run/peer.key", "not in a mounted secrets volume"},
		{"nodes before the secrets", "secrets:\n      condition: service_completed_successfully", "secrets:\n      condition: service_started", "must depend on secrets"},
		{"keys readable by others", "chmod 0400", "chmod 0444", "chmod 0400"},
		{"edge not the http port", `"127.0.0.1:8082:8080"`, `"127.0.0.1:8082:8090"`, "does not publish the http port"},
		{"nodes before the schema", "migrate:\n      condition: service_completed_successfully", "migrate:\n      condition: service_started", "must depend on migrate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := strings.Count(src, tc.old); n != 1 {
				t.Fatalf("%q occurs %d times in compose.yaml, want once", tc.old, n)
			}
			f, err := parseCompose([]byte(strings.Replace(src, tc.old, tc.new, 1)))
			errs := []error{err}
			if err == nil {
				errs = checkCompose(f)
			}
			if !mentions(errs, tc.want) {
				t.Errorf("want an error mentioning %q, got %v", tc.want, errs)
			}
		})
	}
}

// checkComposeKeyFiles wants a node's key file flags (edge TLS, gossip key ring, peer mTLS)
// set, each file in a volume the node mounts read-only, written by a service that the node
// waits for and that makes the files mode 0400.
func checkComposeKeyFiles(f *composeFile, name string, cl *commandLine) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	s := f.Services[name]
	for _, flagName := range []string{"tls-cert", "tls-key", "gossip-key-file", "peer-ca", "peer-cert", "peer-key", "data-key-file"} {
		path := cl.Value(flagName)
		if path == "" {
			fail("service %s: --%s is not set: nodes run with edge TLS, gossip encryption and peer mutual TLS", name, flagName)
			continue
		}
		var vol, opts string
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && strings.HasPrefix(path, strings.TrimSuffix(parts[1], "/")+"/") {
				vol = parts[0]
				if len(parts) > 2 {
					opts = parts[2]
				}
			}
		}
		if vol == "" {
			fail("service %s: --%s=%s is not in a mounted secrets volume", name, flagName, path)
			continue
		}
		if !slices.Contains(strings.Split(opts, ","), "ro") {
			fail("service %s: volume %s holds keys: mount it read-only (:ro)", name, vol)
		}
		writer := ""
		for _, other := range sortedKeys(f.Services) {
			if other == name || f.Services[other].isAllot() {
				continue
			}
			for _, v := range f.Services[other].Volumes {
				if strings.HasPrefix(v, vol+":") {
					writer = other
				}
			}
		}
		switch w := f.Services[writer]; {
		case writer == "":
			fail("service %s: no service writes volume %s (--%s)", name, vol, flagName)
		case s.DependsOn[writer].Condition != "service_completed_successfully":
			fail("service %s: must depend on %s (it writes %s) with condition service_completed_successfully", name, writer, vol)
		case !strings.Contains(strings.Join(append(append([]string{}, w.Entrypoint...), w.Command...), " "), "chmod 0400"):
			fail("service %s: must chmod 0400 the files it writes to %s: the node refuses key files others can read", writer, vol)
		}
	}
	return errs
}
