package deploy

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// natsObjects are the event bus's objects of a rendering (k8s/base/nats.yaml).
type natsObjects struct {
	StatefulSets []*appsv1.StatefulSet
	Services     []*corev1.Service
	ConfigMaps   []*corev1.ConfigMap
	PDBs         []*policyv1.PodDisruptionBudget
}

func (n *natsObjects) add(obj runtime.Object) {
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		n.StatefulSets = append(n.StatefulSets, o)
	case *corev1.Service:
		n.Services = append(n.Services, o)
	case *corev1.ConfigMap:
		n.ConfigMaps = append(n.ConfigMaps, o)
	case *policyv1.PodDisruptionBudget:
		n.PDBs = append(n.PDBs, o)
	}
}

// natsRoute matches one cluster route of nats.conf: nats://<pod>.<service>:<port>.
var natsRoute = regexp.MustCompile(`nats://([a-z0-9-]+)\.([a-z0-9-]+):(\d+)`)

// checkNATS checks that the node publishes to the NATS cluster the manifests run: --nats-url
// names a Service selecting the servers' client port, the streams' --nats-replicas matches the
// servers, every server routes to every other by its stable name through the headless
// Service, JetStream keeps its files on a volume, and a disruption takes one server at most.
func checkNATS(r *rendered) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := &checker{r: r}
	if len(r.Deployments) != 1 {
		return []error{fmt.Errorf("want one Deployment, got %d", len(r.Deployments))}
	}
	node := c.checkNodeContainer(r.Deployments[0])
	if node == nil {
		return c.errs
	}
	n := r.NATS
	if len(n.StatefulSets) != 1 || len(n.ConfigMaps) != 1 {
		return append(errs, fmt.Errorf("want one NATS StatefulSet and its ConfigMap, got %d and %d", len(n.StatefulSets), len(n.ConfigMaps)))
	}
	ss, conf := n.StatefulSets[0], n.ConfigMaps[0].Data["nats.conf"]
	replicas := 1
	if ss.Spec.Replicas != nil {
		replicas = int(*ss.Spec.Replicas)
	}
	if replicas < 3 {
		fail("StatefulSet %s: %d replicas; a JetStream cluster that survives a restart needs 3", ss.Name, replicas)
	}
	podLabels := labels.Set(ss.Spec.Template.Labels)
	if len(ss.Spec.Template.Spec.Containers) != 1 {
		return append(errs, fmt.Errorf("StatefulSet %s: want one container", ss.Name))
	}
	ct := &ss.Spec.Template.Spec.Containers[0]

	// The node's side: a URL of the client Service and as many stream replicas as servers.
	u, err := url.Parse(strings.Split(node.cmd.Value("nats-url"), ",")[0])
	if err != nil || u.Scheme != "nats" || u.Hostname() == "" {
		return append(errs, fmt.Errorf("node container: --nats-url %q is not a nats:// URL", node.cmd.Value("nats-url")))
	}
	if got := node.cmd.Value("nats-replicas"); got != strconv.Itoa(replicas) {
		fail("node container: --nats-replicas %s, but the NATS StatefulSet runs %d servers", got, replicas)
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = 4222
	}
	client := false
	for _, s := range n.Services {
		if s.Name != u.Hostname() {
			continue
		}
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			fail("Service %s (--nats-url) does not select the NATS pods", s.Name)
		}
		for _, p := range s.Spec.Ports {
			if int(p.Port) == port {
				target, ok := resolvePort(ct, orPort(p.TargetPort, p.Port))
				client = ok && strings.Contains(conf, fmt.Sprintf("listen: 0.0.0.0:%d", target))
			}
		}
	}
	if !client {
		fail("--nats-url %s: no Service %s with port %d reaching the servers' client listener", u, u.Hostname(), port)
	}

	// The servers' side: routes to every pod by name, through the headless Service.
	var headless *corev1.Service
	for _, s := range n.Services {
		if s.Name == ss.Spec.ServiceName && s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = s
		}
	}
	if headless == nil || !headless.Spec.PublishNotReadyAddresses {
		fail("StatefulSet %s: serviceName %q must be a headless Service publishing not-ready addresses", ss.Name, ss.Spec.ServiceName)
	}
	var routed []string
	for _, m := range natsRoute.FindAllStringSubmatch(conf, -1) {
		if m[2] != ss.Spec.ServiceName {
			fail("nats.conf: route %s does not go through the headless Service %s", m[0], ss.Spec.ServiceName)
		}
		p, _ := strconv.Atoi(m[3])
		if !hasContainerPort(ct, p, corev1.ProtocolTCP) {
			fail("nats.conf: route %s: no container port %d", m[0], p)
		}
		routed = append(routed, m[1])
	}
	for i := range replicas {
		if pod := fmt.Sprintf("%s-%d", ss.Name, i); !slices.Contains(routed, pod) {
			fail("nats.conf: no route to %s", pod)
		}
	}
	if !strings.Contains(conf, "jetstream") || !strings.Contains(conf, "server_name: $POD_NAME") {
		fail("nats.conf: JetStream with a stable server_name ($POD_NAME) is required")
	}
	stored := false
	for _, vm := range ct.VolumeMounts {
		for _, vct := range ss.Spec.VolumeClaimTemplates {
			stored = stored || (vm.Name == vct.Name && strings.Contains(conf, "store_dir: "+vm.MountPath))
		}
	}
	if !stored {
		fail("StatefulSet %s: JetStream's store_dir is not on a volume claim", ss.Name)
	}
	if len(n.PDBs) != 1 || n.PDBs[0].Spec.MaxUnavailable == nil || n.PDBs[0].Spec.MaxUnavailable.IntValue() != 1 {
		fail("want one PodDisruptionBudget for NATS with maxUnavailable 1 (two of three keep the quorum)")
	}
	return errs
}

func orPort(target intstr.IntOrString, port int32) intstr.IntOrString {
	if target.Type == intstr.Int && target.IntValue() == 0 {
		return intstr.FromInt32(port)
	}
	return target
}

func TestNATSWiring(t *testing.T) {
	for _, dir := range []string{baseDir, overlayDir} {
		t.Run(dir, func(t *testing.T) {
			for _, err := range checkNATS(mustRender(t, mustLoadTree(t, "k8s"), dir)) {
				t.Error(err)
			}
		})
	}
}

// TestNATSWiringCatchesBreakage breaks a copy of the manifests one way at a time.
func TestNATSWiringCatchesBreakage(t *testing.T) {
	const (
		deployment = "/k8s/base/deployment.yaml"
		nats       = "/k8s/base/nats.yaml"
	)
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"replicas below the servers", deployment, `value: "3"`, `value: "1"`, "--nats-replicas 1"},
		{"url of another service", deployment, "nats://nats:4222", "nats://nats-events:4222", "no Service nats-events"},
		{"url on another port", deployment, "nats://nats:4222", "nats://nats:4223", "with port 4223"},
		{"a route missing", nats, "        nats://nats-2.nats-cluster:6222\n", "", "no route to nats-2"},
		{"two servers", nats, "replicas: 3", "replicas: 2", "2 replicas"},
		{"store in the container", nats, "store_dir: /data/jetstream", "store_dir: /tmp/jetstream", "not on a volume claim"},
		{"routes through the client service", nats, "nats://nats-0.nats-cluster:6222", "nats://nats-0.nats:6222", "does not go through"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := mustLoadTree(t, "k8s")
			mustReplaceOnce(t, fsys, tc.file, tc.old, tc.new)
			r := mustRender(t, fsys, baseDir)
			if errs := checkNATS(r); !mentions(errs, tc.want) {
				t.Errorf("want an error mentioning %q, got %v", tc.want, errs)
			}
		})
	}
}

// checkComposeNATS checks the compose file's event bus: at least three NATS services that
// each route to all of them with JetStream on a volume, and nodes that publish to those
// servers with as many stream replicas.
func checkComposeNATS(f *composeFile) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var servers []string
	for _, name := range sortedKeys(f.Services) {
		if strings.HasPrefix(f.Services[name].Image, "nats:") {
			servers = append(servers, name)
		}
	}
	if len(servers) < 3 {
		return []error{fmt.Errorf("want three NATS services, got %v", servers)}
	}
	for _, name := range servers {
		s := f.Services[name]
		args := strings.Join(s.Command, " ")
		for _, peer := range servers {
			if !strings.Contains(args, "nats://"+peer+":6222") {
				fail("service %s: --routes does not list %s", name, peer)
			}
		}
		if !strings.Contains(args, "--jetstream") || !strings.Contains(args, "--name="+name) {
			fail("service %s: want --jetstream and --name=%s", name, name)
		}
		if !slices.Contains(s.Volumes, name+"-data:/data") || !strings.Contains(args, "--store_dir=/data") {
			fail("service %s: JetStream files not on the volume %s-data", name, name)
		}
	}
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		if !s.isAllot() || len(s.Command) == 0 || s.Command[0] != "node" {
			continue
		}
		cl, err := parseCommandLine(s.Command, s.env())
		if err != nil {
			fail("service %s: %v", name, err)
			continue
		}
		var hosts []string
		for _, raw := range strings.Split(cl.Value("nats-url"), ",") {
			u, err := url.Parse(raw)
			if err != nil || u.Scheme != "nats" || !slices.Contains(servers, u.Hostname()) || u.Port() != "4222" {
				fail("service %s: --nats-url %q is not a NATS service's client port", name, raw)
				continue
			}
			hosts = append(hosts, u.Hostname())
		}
		if len(hosts) != len(servers) {
			fail("service %s: --nats-url lists %v, want every NATS server %v", name, hosts, servers)
		}
		if got := cl.Value("nats-replicas"); got != strconv.Itoa(len(servers)) {
			fail("service %s: --nats-replicas %s with %d NATS servers", name, got, len(servers))
		}
		for _, srv := range servers {
			if s.DependsOn[srv].Condition != "service_healthy" {
				fail("service %s: must depend on %s being healthy", name, srv)
			}
		}
	}
	return errs
}

func TestComposeNATS(t *testing.T) {
	src := mustReadFile(t, "compose.yaml")
	f, err := parseCompose([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkComposeNATS(f) {
		t.Error(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"one replica", `ALLOT_NATS_REPLICAS: "3"`, `ALLOT_NATS_REPLICAS: "1"`, "--nats-replicas 1"},
		{"a server left out", "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222", "nats://nats-1:4222,nats://nats-2:4222", "want every NATS server"},
		{"a route left out", `"--routes=nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222"]
    volumes:
      - nats-2-data`, `"--routes=nats://nats-1:6222,nats://nats-2:6222"]
    volumes:
      - nats-2-data`, "service nats-2: --routes does not list nats-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(src, tc.old) != 1 {
				t.Fatalf("%q not found once", tc.old)
			}
			f, err := parseCompose([]byte(strings.Replace(src, tc.old, tc.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if errs := checkComposeNATS(f); !mentions(errs, tc.want) {
				t.Errorf("want an error mentioning %q, got %v", tc.want, errs)
			}
		})
	}
}
