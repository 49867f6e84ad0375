package deploy

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	baseDir    = "/k8s/base"
	overlayDir = "/k8s/overlays/example"
)

func TestKustomizeWiring(t *testing.T) {
	for _, dir := range []string{baseDir, overlayDir} {
		t.Run(dir, func(t *testing.T) {
			r := mustRender(t, mustLoadTree(t, "k8s"), dir)
			for _, err := range checkWiring(r) {
				t.Error(err)
			}
		})
	}
}

func TestOverlayExample(t *testing.T) {
	r := mustRender(t, mustLoadTree(t, "k8s"), overlayDir)
	for _, o := range r.All {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if kind != "Namespace" && m.GetNamespace() != "allot" {
			t.Errorf("%s %s: namespace %q, want allot", kind, m.GetName(), m.GetNamespace())
		}
	}
	d := r.Deployments[0]
	for _, ct := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
		name, tag, ok := strings.Cut(ct.Image, ":")
		if !ok || !strings.Contains(name, "/") || tag == "" || tag == "latest" {
			t.Errorf("container %s: image %q, want a registry path and a pinned tag", ct.Name, ct.Image)
		}
	}
}

// TestKustomizeWiringCatchesBreakage breaks a copy of the manifests one way at a time and
// wants the checks to notice each.
func TestKustomizeWiringCatchesBreakage(t *testing.T) {
	const (
		deployment = "/k8s/base/deployment.yaml"
		peers      = "/k8s/base/service-peers.yaml"
		edge       = "/k8s/base/service-http.yaml"
	)
	for _, tc := range []struct {
		name, file, old, new, want string
		baseOnly                   bool // the overlay overrides what the case breaks
	}{
		{"readiness on liveness path", deployment, "path: /readyz", "path: /healthz", "readiness probe: path", false},
		{name: "harmless: liveness timeout", file: deployment, old: "timeoutSeconds: 3", new: "timeoutSeconds: 4"},
		{"liveness on another path", deployment, "path: /healthz\n              port: http\n              scheme: HTTPS\n            periodSeconds: 10", "path: /livez\n              port: http\n              scheme: HTTPS\n            periodSeconds: 10", "liveness probe: path", false},
		{"probe on wrong port", deployment, "path: /readyz\n              port: http", "path: /readyz\n              port: 9090", "readiness probe: port", false},
		{"http port moved without probes", deployment, "--http-addr=:8080", "--http-addr=:9000", "containerPort 9000", false},
		{"unknown flag", deployment, "--leave-timeout=20s", "--leave-timeout=20s\n            - --drain-timeout=20s", "not defined", false},
		{"unknown env", deployment, "name: ALLOT_LOG_LEVEL", "name: ALLOT_LOGLEVEL", "ALLOT_LOGLEVEL: allot node reads no such variable", false},
		{"leave timeout above grace", deployment, "--leave-timeout=20s", "--leave-timeout=60s", "terminationGracePeriodSeconds", false},
		{"grace too short", deployment, "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 25", "terminationGracePeriodSeconds", false},
		{"preStop through a shell", deployment, "sleep:\n                seconds: 5", "exec:\n                command: [sh, -c, sleep 5]", "sleep action", false},
		{"db url in plain text", deployment, "- name: ALLOT_DB_URL\n              valueFrom:\n                secretKeyRef:\n                  name: allot-secrets\n                  key: db-url\n            # X-Allot-Owner",
			"- name: ALLOT_DB_URL\n              value: postgresql://root@db:26257/allot\n            # X-Allot-Owner", "--db-url must come from a Secret", false},
		{"advertise a fixed address", deployment, "fieldPath: status.podIP", "fieldPath: status.hostIP", "downward API", false},
		{"join another name", deployment, "--join=dns:allot-peers:7946", "--join=dns:allot:7946", "not a headless Service", false},
		{"join another port", deployment, "--join=dns:allot-peers:7946", "--join=dns:allot-peers:7947", "is not the gossip port", false},
		{"gossip moved", deployment, "--gossip-addr=:7946", "--gossip-addr=:7000", "no TCP containerPort 7000", false},
		{"migrate with another image", deployment, "- name: migrate\n          image: allot", "- name: migrate\n          image: allot-migrate", "no init container or Job runs `allot migrate`", false},
		{"metrics scraped on the edge", deployment, `prometheus.io/port: "9090"`, `prometheus.io/port: "8080"`, "prometheus annotations", false},
		{"dev auth without a shared key", deployment, "- --auth=oidc", "- --auth=dev", "needs --key-file", false},
		{"no anti-affinity", deployment, "topologyKey: kubernetes.io/hostname", "topologyKey: kubernetes.io/os", "anti-affinity", false},
		{"replicas fight the HPA", deployment, "revisionHistoryLimit: 5", "replicas: 3\n  revisionHistoryLimit: 5", "sets replicas", false},
		{"no memory limit", deployment, "cpu: \"1\"\n              memory: 512Mi", "cpu: \"1\"", "memory limit", true},
		{"peers hide starting pods", peers, "publishNotReadyAddresses: true", "publishNotReadyAddresses: false", "publishNotReadyAddresses", false},
		{"peers select nothing", peers, "selector:\n    app.kubernetes.io/name: allot", "selector:\n    app.kubernetes.io/name: allot-db", "does not select", false},
		{"peers gossip UDP on another port", peers, "port: 7946\n      targetPort: gossip-udp", "port: 7947\n      targetPort: gossip-udp", "UDP port 7946", false},
		{"edge targets a missing port", edge, "targetPort: http", "targetPort: web", "no container port", false},
		{"HPA targets another Deployment", "/k8s/base/hpa.yaml", "kind: Deployment\n    name: allot", "kind: Deployment\n    name: allot-node", "HPA allot targets", false},
		{"PDB selects nothing", "/k8s/base/pdb.yaml", "app.kubernetes.io/component: node", "app.kubernetes.io/component: api", "PDB allot: selector", false},
		{"PDB blocks drains", "/k8s/base/pdb.yaml", "maxUnavailable: 1", "maxUnavailable: 0", "blocks every drain", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := mustLoadTree(t, "k8s")
			mustReplaceOnce(t, fsys, tc.file, tc.old, tc.new)
			dirs := []string{baseDir, overlayDir}
			if tc.baseOnly {
				dirs = dirs[:1]
			}
			for _, dir := range dirs {
				r, err := render(fsys, dir)
				var errs []error
				if err != nil {
					errs = []error{err}
				} else {
					errs = checkWiring(r)
				}
				if tc.want == "" {
					if len(errs) > 0 {
						t.Errorf("%s: harmless change reported: %v", dir, errors.Join(errs...))
					}
					continue
				}
				if !mentions(errs, tc.want) {
					t.Errorf("%s: want an error mentioning %q, got %v", dir, tc.want, errors.Join(errs...))
				}
			}
		})
	}
}

func mentions(errs []error, want string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}

// TestSecretWiring covers what the manifests leave to the cluster: the Secret itself.
func TestSecretWiring(t *testing.T) {
	r := mustRender(t, mustLoadTree(t, "k8s"), overlayDir)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "allot-secrets", Namespace: "allot"},
		Data:       map[string][]byte{"db-url": []byte("postgresql://allot@db:26257/allot")},
	}
	r.Secrets = append(r.Secrets, secret)
	if errs := checkWiring(r); !mentions(errs, `Secret allot-secrets has no key "gossip-keys"`) {
		t.Errorf("a Secret without gossip-keys: got %v", errs)
	}
	secret.StringData = map[string]string{"gossip-keys": "x", "data-keys": "x"}
	optional := true
	for _, e := range r.Deployments[0].Spec.Template.Spec.Containers[0].Env {
		if e.Name == envName("db-url") {
			e.ValueFrom.SecretKeyRef.Optional = &optional
		}
	}
	if errs := checkWiring(r); len(errs) != 1 || !mentions(errs, "must not be optional") {
		t.Errorf("an optional secret: got %v", errs)
	}
}
