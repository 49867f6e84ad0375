package deploy

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// nodePod is the Allot node container of the Deployment, with its resolved command line.
type nodePod struct {
	deploy     *appsv1.Deployment
	labels     labels.Set
	container  *corev1.Container
	cmd        *commandLine
	httpPort   int
	gossipPort int
	remotePort int
	adminPort  int
}

// checker collects the problems found in one rendered kustomization.
type checker struct {
	r    *rendered
	errs []error
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// checkWiring checks that the rendered objects fit together and fit the node: ports, probe
// paths, flags, environment, Secrets, Services, autoscaler and disruption budget.
func checkWiring(r *rendered) []error {
	c := &checker{r: r}
	if len(r.Deployments) != 1 {
		c.fail("want exactly one Deployment, got %d", len(r.Deployments))
		return c.errs
	}
	n := c.checkNodeContainer(r.Deployments[0])
	if n == nil {
		return c.errs
	}
	c.checkPodSpec(n)
	c.checkMigration(n)
	c.checkSecrets(n)
	c.checkTransport(n) // transport_test.go: TLS, gossip key ring and peer mTLS from Secrets
	c.checkServices(n)
	c.checkHPA(n)
	c.checkPDB(n)
	return c.errs
}

// envOf lists a container's environment with the source of each valueFrom.
func envOf(ct *corev1.Container) []envVar {
	var env []envVar
	for _, e := range ct.Env {
		v := envVar{Name: e.Name, Value: e.Value}
		switch vf := e.ValueFrom; {
		case vf == nil:
		case vf.SecretKeyRef != nil:
			v.From = "secret:" + vf.SecretKeyRef.Name + "/" + vf.SecretKeyRef.Key
		case vf.FieldRef != nil:
			v.From = "field:" + vf.FieldRef.FieldPath
		case vf.ConfigMapKeyRef != nil:
			v.From = "configmap:" + vf.ConfigMapKeyRef.Name + "/" + vf.ConfigMapKeyRef.Key
		default:
			v.From = "other"
		}
		env = append(env, v)
	}
	return env
}

// containerCommand parses an Allot container's command line; the image's entrypoint is
// the binary, so the subcommand and flags belong in args.
func containerCommand(ct *corev1.Container) (*commandLine, error) {
	if len(ct.Command) > 0 {
		return nil, fmt.Errorf("container %s: set args, not command (the entrypoint is allot)", ct.Name)
	}
	if len(ct.EnvFrom) > 0 {
		return nil, fmt.Errorf("container %s: envFrom hides which ALLOT_ variables are set; list env", ct.Name)
	}
	cl, err := parseCommandLine(ct.Args, envOf(ct))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ct.Name, err)
	}
	return cl, nil
}

func (c *checker) checkNodeContainer(d *appsv1.Deployment) *nodePod {
	n := &nodePod{deploy: d, labels: d.Spec.Template.Labels}
	spec := &d.Spec.Template.Spec
	for i := range spec.Containers {
		if ct := &spec.Containers[i]; len(ct.Args) > 0 && ct.Args[0] == "node" {
			if n.container != nil {
				c.fail("Deployment %s: more than one container runs allot node", d.Name)
			}
			n.container = ct
		}
	}
	if n.container == nil {
		c.fail("Deployment %s: no container runs `allot node` (args must start with node)", d.Name)
		return nil
	}
	cl, err := containerCommand(n.container)
	if err != nil {
		c.fail("Deployment %s: %v", d.Name, err)
		return nil
	}
	n.cmd = cl
	if p := cl.authProblem(); p != "" {
		c.fail("node container: %s", p)
	}
	for _, p := range []struct {
		flag string
		dst  *int
	}{{"http-addr", &n.httpPort}, {"gossip-addr", &n.gossipPort}, {"remote-addr", &n.remotePort}, {"admin-addr", &n.adminPort}} {
		port, err := cl.Port(p.flag)
		if err != nil {
			c.fail("node container: %v", err)
			return nil
		}
		*p.dst = port
	}
	ct := n.container
	for _, want := range []struct {
		port  int
		proto corev1.Protocol
		flag  string
	}{
		{n.httpPort, corev1.ProtocolTCP, "http-addr"},
		{n.gossipPort, corev1.ProtocolTCP, "gossip-addr"},
		{n.gossipPort, corev1.ProtocolUDP, "gossip-addr"},
		{n.remotePort, corev1.ProtocolTCP, "remote-addr"},
		{n.adminPort, corev1.ProtocolTCP, "admin-addr"},
	} {
		if !hasContainerPort(ct, want.port, want.proto) {
			c.fail("node container: no %s containerPort %d for --%s=%s", want.proto, want.port, want.flag, cl.Value(want.flag))
		}
	}
	return n
}

func hasContainerPort(ct *corev1.Container, port int, proto corev1.Protocol) bool {
	for _, p := range ct.Ports {
		if int(p.ContainerPort) == port && protocolOf(p.Protocol) == proto {
			return true
		}
	}
	return false
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// resolvePort turns a port reference (number or container port name) into a number.
func resolvePort(ct *corev1.Container, ref intstr.IntOrString) (int, bool) {
	if ref.Type == intstr.Int {
		return ref.IntValue(), true
	}
	for _, p := range ct.Ports {
		if p.Name == ref.StrVal {
			return int(p.ContainerPort), true
		}
	}
	return 0, false
}

func (c *checker) checkProbe(n *nodePod, kind string, p *corev1.Probe, path string, required bool) {
	if p == nil {
		if required {
			c.fail("node container: no %s probe", kind)
		}
		return
	}
	if p.HTTPGet == nil {
		c.fail("%s probe: want an httpGet on %s", kind, path)
		return
	}
	if p.HTTPGet.Path != path {
		c.fail("%s probe: path %q, want %q", kind, p.HTTPGet.Path, path)
	}
	if port, ok := resolvePort(n.container, p.HTTPGet.Port); !ok || port != n.httpPort {
		c.fail("%s probe: port %s is not the http port %d (--http-addr)", kind, p.HTTPGet.Port.String(), n.httpPort)
	}
	if s, want := orHTTP(p.HTTPGet.Scheme), n.edgeScheme(); s != want {
		c.fail("%s probe: scheme %s, the node serves %s", kind, s, want)
	}
}

func (c *checker) checkPodSpec(n *nodePod) {
	d, spec, cl := n.deploy, &n.deploy.Spec.Template.Spec, n.cmd
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(n.labels) {
		c.fail("Deployment %s: selector does not match its pod labels", d.Name)
	}
	c.checkProbe(n, "readiness", n.container.ReadinessProbe, readyzPath, true)
	c.checkProbe(n, "liveness", n.container.LivenessProbe, healthzPath, true)
	c.checkProbe(n, "startup", n.container.StartupProbe, healthzPath, false)

	if src := cl.Source("advertise-addr"); src != "field:status.podIP" {
		c.fail("--advertise-addr must come from the downward API (status.podIP), comes from %q", src)
	}
	seeds, err := parseJoin(cl.Value("join"))
	switch {
	case err != nil:
		c.fail("node container: %v", err)
	case len(seeds) != 1 || !seeds[0].DNS:
		c.fail("--join=%s: want dns:<headless service>:<gossip port>", cl.Value("join"))
	case seeds[0].Port != n.gossipPort:
		c.fail("--join=%s: port %d is not the gossip port %d (--gossip-addr)", cl.Value("join"), seeds[0].Port, n.gossipPort)
	case c.headless(strings.Split(seeds[0].Host, ".")[0]) == nil:
		c.fail("--join=%s: %s is not a headless Service of this deployment", cl.Value("join"), seeds[0].Host)
	}

	leave, err := cl.Duration("leave-timeout")
	if err != nil {
		c.fail("node container: %v", err)
	}
	var preStop time.Duration
	switch h := n.container.Lifecycle; {
	case h == nil || h.PreStop == nil:
		c.fail("node container: no preStop hook (endpoints need time to drop the pod before SIGTERM)")
	case h.PreStop.Sleep == nil:
		c.fail("preStop must be a sleep action: the image has no shell or sleep binary")
	default:
		preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
	}
	grace := 30 * time.Second
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if grace <= leave+preStop {
		c.fail("terminationGracePeriodSeconds %v must exceed preStop sleep %v + --leave-timeout %v", grace, preStop, leave)
	}

	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != metricsPath ||
		ann["prometheus.io/port"] != fmt.Sprint(n.adminPort) || !strings.EqualFold(orDefault(ann["prometheus.io/scheme"], "http"), "http") {
		c.fail("prometheus annotations %v: want scrape=true, path=%s, port=%d (--admin-addr, plain HTTP)", ann, metricsPath, n.adminPort)
	}
	if !c.spreadsOverHosts(n) {
		c.fail("Deployment %s: no pod anti-affinity on kubernetes.io/hostname selecting its own pods", d.Name)
	}
	for _, ct := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		req, lim := ct.Resources.Requests, ct.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
			c.fail("container %s: want cpu and memory requests and a memory limit", ct.Name)
		}
		nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
		if sc := ct.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if !nonRoot {
			c.fail("container %s: runAsNonRoot is not set", ct.Name)
		}
	}
}

func (c *checker) spreadsOverHosts(n *nodePod) bool {
	aff := n.deploy.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil {
		return false
	}
	terms := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	for _, w := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, w.PodAffinityTerm)
	}
	for _, t := range terms {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err == nil && t.TopologyKey == "kubernetes.io/hostname" && !sel.Empty() && sel.Matches(n.labels) {
			return true
		}
	}
	return false
}

// checkMigration wants `allot migrate` to run before the nodes serve, from the same image:
// as an init container of the Deployment, or as a Job.
func (c *checker) checkMigration(n *nodePod) {
	var migrators []*corev1.Container
	for i := range n.deploy.Spec.Template.Spec.InitContainers {
		migrators = append(migrators, &n.deploy.Spec.Template.Spec.InitContainers[i])
	}
	for _, o := range c.r.All {
		if j, ok := o.(*batchv1.Job); ok {
			for i := range j.Spec.Template.Spec.Containers {
				migrators = append(migrators, &j.Spec.Template.Spec.Containers[i])
			}
		}
	}
	found := false
	for _, ct := range migrators {
		if ct.Image != n.container.Image {
			continue
		}
		cl, err := containerCommand(ct)
		if err != nil {
			c.fail("migration: %v", err)
			continue
		}
		if cl.Sub != "migrate" {
			c.fail("container %s runs allot %s; only allot migrate runs before the node", ct.Name, cl.Sub)
			continue
		}
		found = true
		if src := cl.Source("db-url"); !strings.HasPrefix(src, "secret:") {
			c.fail("container %s: --db-url must come from a Secret, comes from %q", ct.Name, src)
		}
	}
	if !found {
		c.fail("no init container or Job runs `allot migrate` with the node's image %s", n.container.Image)
	}
}

// checkSecrets wants the database URL (and a single --gossip-key, if used instead of the key
// file) from Secrets, under the environment names the node reads, and each key to exist
// when the Secret is part of the render. Key files are checkTransport's.
func (c *checker) checkSecrets(n *nodePod) {
	flags := []string{"db-url"}
	if n.cmd.Value("gossip-key") != "" {
		flags = append(flags, "gossip-key")
	}
	for _, flagName := range flags {
		if src := n.cmd.Source(flagName); !strings.HasPrefix(src, "secret:") {
			c.fail("--%s must come from a Secret through %s, comes from %q", flagName, envName(flagName), src)
		}
	}
	spec := &n.deploy.Spec.Template.Spec
	for _, ct := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range ct.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if e.Name != envName("db-url") && e.Name != envName("gossip-key") {
				c.fail("container %s: env %s comes from a Secret but the node reads secrets only from %s and %s",
					ct.Name, e.Name, envName("db-url"), envName("gossip-key"))
			}
			if ref.Optional != nil && *ref.Optional {
				c.fail("container %s: env %s: the Secret must not be optional", ct.Name, e.Name)
			}
			for _, s := range c.r.Secrets {
				if s.Name == ref.Name {
					_, inData := s.Data[ref.Key]
					_, inString := s.StringData[ref.Key]
					if !inData && !inString {
						c.fail("container %s: env %s: Secret %s has no key %q", ct.Name, e.Name, ref.Name, ref.Key)
					}
				}
			}
		}
	}
}

func (c *checker) headless(name string) *corev1.Service {
	for _, s := range c.r.Services {
		if s.Name == name && s.Spec.ClusterIP == corev1.ClusterIPNone {
			return s
		}
	}
	return nil
}

func (c *checker) checkServices(n *nodePod) {
	var edge, peers int
	for _, s := range c.r.Services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(n.labels) {
			c.fail("Service %s: selector %v does not select the node pods %v", s.Name, s.Spec.Selector, n.labels)
			continue
		}
		targets := map[string]int{} // protocol/port -> service port
		for _, p := range s.Spec.Ports {
			ref := p.TargetPort
			if ref.Type == intstr.Int && ref.IntValue() == 0 {
				ref = intstr.FromInt32(p.Port)
			}
			port, ok := resolvePort(n.container, ref)
			if !ok {
				c.fail("Service %s port %s: targetPort %s is no container port", s.Name, p.Name, ref.String())
				continue
			}
			targets[fmt.Sprintf("%s/%d", protocolOf(p.Protocol), port)] = int(p.Port)
		}
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			if _, ok := targets[fmt.Sprintf("TCP/%d", n.httpPort)]; ok {
				edge++
			}
			continue
		}
		peers++
		if !s.Spec.PublishNotReadyAddresses {
			c.fail("headless Service %s: publishNotReadyAddresses must be true, or starting nodes cannot find each other", s.Name)
		}
		for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
			if port, ok := targets[fmt.Sprintf("%s/%d", proto, n.gossipPort)]; !ok || port != n.gossipPort {
				c.fail("headless Service %s: want a %s port %d targeting the gossip port (--gossip-addr)", s.Name, proto, n.gossipPort)
			}
		}
	}
	if edge == 0 {
		c.fail("no ClusterIP Service targets the http port %d", n.httpPort)
	}
	if peers == 0 {
		c.fail("no headless Service for peer discovery")
	}
}

func (c *checker) checkHPA(n *nodePod) {
	if len(c.r.HPAs) != 1 {
		c.fail("want exactly one HorizontalPodAutoscaler, got %d", len(c.r.HPAs))
		return
	}
	h := c.r.HPAs[0]
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != n.deploy.Name {
		c.fail("HPA %s targets %s %s/%s, want apps/v1 Deployment %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, n.deploy.Name)
	}
	cpu := false
	for _, m := range h.Spec.Metrics {
		cpu = cpu || (m.Resource != nil && m.Resource.Name == corev1.ResourceCPU)
	}
	if !cpu {
		c.fail("HPA %s: no CPU resource metric", h.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		c.fail("HPA %s: want 2 <= minReplicas <= maxReplicas", h.Name)
	}
	if n.deploy.Spec.Replicas != nil {
		c.fail("Deployment %s sets replicas, which every apply would reset under the HPA", n.deploy.Name)
	}
}

func (c *checker) checkPDB(n *nodePod) {
	if len(c.r.PDBs) != 1 {
		c.fail("want exactly one PodDisruptionBudget, got %d", len(c.r.PDBs))
		return
	}
	p := c.r.PDBs[0]
	if sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(n.labels) {
		c.fail("PDB %s: selector does not match the node pods %v", p.Name, n.labels)
	}
	switch {
	case p.Spec.MaxUnavailable != nil:
		if p.Spec.MaxUnavailable.Type == intstr.Int && p.Spec.MaxUnavailable.IntValue() < 1 {
			c.fail("PDB %s: maxUnavailable below 1 blocks every drain", p.Name)
		}
	case p.Spec.MinAvailable != nil:
		if len(c.r.HPAs) == 1 && c.r.HPAs[0].Spec.MinReplicas != nil && p.Spec.MinAvailable.Type == intstr.Int &&
			int32(p.Spec.MinAvailable.IntValue()) >= *c.r.HPAs[0].Spec.MinReplicas {
			c.fail("PDB %s: minAvailable >= minReplicas blocks every drain", p.Name)
		}
	default:
		c.fail("PDB %s: neither maxUnavailable nor minAvailable", p.Name)
	}
}
