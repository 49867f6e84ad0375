package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Transport security in the manifests: the node runs with edge TLS, a gossip key ring file
// and peer mutual TLS, every one of them a file in a Secret mounted read-only with mode 0400,
// and, where cert-manager issues the certificates (the example overlay), the peer
// certificate comes from a private CA with the name and usages the node verifies.

// keyFileFlags are the node flags that name secret files; the manifests must set them all.
var keyFileFlags = []string{"tls-cert", "tls-key", "gossip-key-file", "peer-ca", "peer-cert", "peer-key", "data-key-file"}

// secretFileMode is the only mode the manifests may mount key files with: the node refuses
// key files others can read (the pod's fsGroup adds group read, which it accepts).
const secretFileMode = 0o400

// edgeScheme is the scheme the node's edge serves.
func (n *nodePod) edgeScheme() corev1.URIScheme {
	if n.cmd.Value("tls-cert") != "" {
		return corev1.URISchemeHTTPS
	}
	return corev1.URISchemeHTTP
}

func orHTTP(s corev1.URIScheme) corev1.URIScheme {
	if s == "" {
		return corev1.URISchemeHTTP
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cmObject is the part of cert-manager's Certificate and Issuer (cert-manager.io/v1) the
// manifests use, decoded strictly: add a field when the manifests use a new one.
type cmObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		SecretName  string   `json:"secretName"`
		IsCA        bool     `json:"isCA"`
		CommonName  string   `json:"commonName"`
		DNSNames    []string `json:"dnsNames"`
		Usages      []string `json:"usages"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef *struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
		SelfSigned *struct{} `json:"selfSigned"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca"`
	} `json:"spec"`
}

func decodeCertManager(data []byte) (cmObject, error) {
	var o cmObject
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return o, err
	}
	if o.APIVersion != "cert-manager.io/v1" || (o.Kind != "Certificate" && o.Kind != "Issuer" && o.Kind != "ClusterIssuer") {
		return o, fmt.Errorf("unexpected %s %s", o.APIVersion, o.Kind)
	}
	return o, nil
}

func (r *rendered) certificateFor(secret string) *cmObject {
	for i, o := range r.CertManager {
		if o.Kind == "Certificate" && o.Spec.SecretName == secret {
			return &r.CertManager[i]
		}
	}
	return nil
}

func (r *rendered) issuer(kind, name string) *cmObject {
	for i, o := range r.CertManager {
		if o.Kind == kind && o.Metadata.Name == name {
			return &r.CertManager[i]
		}
	}
	return nil
}

// checkTransport wants every key file flag set, each file in a Secret mounted read-only
// with mode 0400, and cert-manager's certificates (when rendered) to fit the node.
func (c *checker) checkTransport(n *nodePod) {
	secrets := map[string]string{} // flag -> Secret backing its file
	for _, f := range keyFileFlags {
		path := n.cmd.Value(f)
		if path == "" {
			c.fail("--%s is not set: the node must run with edge TLS, gossip encryption and peer mutual TLS", f)
			continue
		}
		secrets[f] = c.secretFile(n, f, path)
	}
	if v := n.cmd.Value("contacts"); v != "on" {
		c.fail("--contacts is %q, want on: a node that loses its data key ring must refuse to start, not go on refusing every guest contact (auto)", v)
	}
	if len(c.r.CertManager) == 0 {
		return // the Secrets come from elsewhere (the base leaves them to the operator)
	}
	if s := secrets["peer-cert"]; s != "" {
		cert := c.r.certificateFor(s)
		switch {
		case cert == nil:
			c.fail("no cert-manager Certificate issues Secret %s (--peer-cert)", s)
		case !slices.Contains(cert.Spec.DNSNames, "allot-peer"):
			c.fail("Certificate %s: dnsNames %v lack allot-peer, the name nodes verify", cert.Metadata.Name, cert.Spec.DNSNames)
		case !slices.Contains(cert.Spec.Usages, "server auth") || !slices.Contains(cert.Spec.Usages, "client auth"):
			c.fail("Certificate %s: usages %v; a peer certificate needs server auth and client auth", cert.Metadata.Name, cert.Spec.Usages)
		case cert.Spec.IssuerRef == nil || cert.Spec.IssuerRef.Kind != "Issuer" || c.r.issuer("Issuer", cert.Spec.IssuerRef.Name) == nil ||
			c.r.issuer("Issuer", cert.Spec.IssuerRef.Name).Spec.CA == nil:
			c.fail("Certificate %s: the peer certificate must come from a private CA Issuer of this namespace: whoever that issuer serves can join the cluster", cert.Metadata.Name)
		}
		if ca := secrets["peer-ca"]; ca != s {
			c.fail("--peer-ca comes from Secret %s, --peer-cert from %s: cert-manager puts the issuing CA into ca.crt of the certificate's Secret", ca, s)
		}
	}
	if s := secrets["tls-cert"]; s != "" {
		if cert := c.r.certificateFor(s); cert == nil {
			c.fail("no cert-manager Certificate issues Secret %s (--tls-cert)", s)
		} else if len(cert.Spec.Usages) > 0 && !slices.Contains(cert.Spec.Usages, "server auth") {
			c.fail("Certificate %s: usages %v lack server auth", cert.Metadata.Name, cert.Spec.Usages)
		}
	}
}

// secretFile checks that path (the value of --flag) is a key of a Secret volume mounted
// read-only with mode 0400, and returns the Secret's name ("" when it is not).
func (c *checker) secretFile(n *nodePod, flag, path string) string {
	var mount *corev1.VolumeMount
	for i, m := range n.container.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			mount = &n.container.VolumeMounts[i]
		}
	}
	if mount == nil {
		c.fail("--%s=%s is not in a mounted Secret", flag, path)
		return ""
	}
	rel := strings.TrimPrefix(path, strings.TrimSuffix(mount.MountPath, "/")+"/")
	var vol *corev1.Volume
	for i, v := range n.deploy.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &n.deploy.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil {
		c.fail("--%s=%s is not in a mounted Secret (volume %s)", flag, path, mount.Name)
		return ""
	}
	src := vol.Secret
	if !mount.ReadOnly {
		c.fail("volume %s (--%s): mount it readOnly", vol.Name, flag)
	}
	if src.Optional != nil && *src.Optional {
		c.fail("volume %s (--%s): the Secret must not be optional", vol.Name, flag)
	}
	key, mode := rel, src.DefaultMode
	if len(src.Items) > 0 {
		key = ""
		for _, it := range src.Items {
			if it.Path == rel {
				key = it.Key
				if it.Mode != nil {
					mode = it.Mode
				}
			}
		}
		if key == "" {
			c.fail("--%s=%s: volume %s projects no item to %s", flag, path, vol.Name, rel)
			return src.SecretName
		}
	}
	if mode == nil || *mode != secretFileMode {
		got := "unset (0644)"
		if mode != nil {
			got = fmt.Sprintf("%#o", *mode)
		}
		c.fail("volume %s (--%s): defaultMode %s, want 0400: the node refuses key files others can read", vol.Name, flag, got)
	}
	for _, s := range c.r.Secrets {
		if s.Name == src.SecretName {
			_, inData := s.Data[key]
			_, inString := s.StringData[key]
			if !inData && !inString {
				c.fail("--%s: Secret %s has no key %q", flag, s.Name, key)
			}
		}
	}
	if cert := c.r.certificateFor(src.SecretName); cert != nil && !slices.Contains([]string{"tls.crt", "tls.key", "ca.crt"}, key) {
		c.fail("--%s: Secret %s comes from Certificate %s, which has no key %q", flag, src.SecretName, cert.Metadata.Name, key)
	}
	return src.SecretName
}

func TestTransportWiringCatchesBreakage(t *testing.T) {
	const (
		deployment = "/k8s/base/deployment.yaml"
		certs      = "/k8s/overlays/example/cert-manager.yaml"
	)
	for _, tc := range []struct {
		name, file, old, new, want string
		dirs                       []string
	}{
		{"no edge TLS", deployment, "            - --tls-cert=/etc/allot/edge-tls/tls.crt\n            - --tls-key=/etc/allot/edge-tls/tls.key\n", "", "--tls-cert is not set", nil},
		{"no gossip key ring", deployment, "            - --gossip-key-file=/etc/allot/gossip/gossip-keys\n", "", "--gossip-key-file is not set", nil},
		{"no peer mTLS", deployment, "            - --peer-ca=/etc/allot/peer-tls/ca.crt\n", "", "--peer-ca is not set", nil},
		{"key readable by others", deployment, "secretName: allot-peer-tls\n            defaultMode: 0400", "secretName: allot-peer-tls\n            defaultMode: 0444", "defaultMode 0444, want 0400", nil},
		{"mode left to the default", deployment, "secretName: allot-secrets\n            defaultMode: 0400\n", "secretName: allot-secrets\n", "defaultMode unset", nil},
		{"key outside the mount", deployment, "--peer-key=/etc/allot/peer-tls/tls.key", "--peer-key=/etc/allot/peer/tls.key", "--peer-key=/etc/allot/peer/tls.key is not in a mounted Secret", nil},
		{"no data key ring", deployment, "            - --data-key-file=/etc/allot/data-keys/data-keys\n", "", "--data-key-file is not set", nil},
		{"contacts left to auto", deployment, "            - --contacts=on\n", "", "--contacts is \"auto\", want on", nil},
		{"gossip item renamed", deployment, "path: gossip-keys", "path: keys", "projects no item", nil},
		{"writable mount", deployment, "mountPath: /etc/allot/gossip\n              readOnly: true", "mountPath: /etc/allot/gossip", "mount it readOnly", nil},
		{"probe over plain HTTP", deployment, "path: /readyz\n              port: http\n              scheme: HTTPS", "path: /readyz\n              port: http", "scheme HTTP, the node serves HTTPS", nil},
		{"peer certificate from a public issuer", certs, "    name: allot-peer-ca\n    kind: Issuer", "    name: letsencrypt\n    kind: ClusterIssuer", "private CA Issuer", []string{overlayDir}},
		{"peer certificate without client auth", certs, "    - server auth\n    - client auth", "    - server auth", "needs server auth and client auth", []string{overlayDir}},
		{"peer certificate for another name", certs, "  dnsNames:\n    - allot-peer", "  dnsNames:\n    - allot", "lack allot-peer", []string{overlayDir}},
		{"edge certificate into another Secret", certs, "secretName: allot-edge-tls", "secretName: allot-edge", "no cert-manager Certificate issues Secret allot-edge-tls", []string{overlayDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := mustLoadTree(t, "k8s")
			mustReplaceOnce(t, fsys, tc.file, tc.old, tc.new)
			dirs := tc.dirs
			if dirs == nil {
				dirs = []string{baseDir, overlayDir}
			}
			for _, dir := range dirs {
				r, err := render(fsys, dir)
				errs := []error{err}
				if err == nil {
					errs = checkWiring(r)
				}
				if !mentions(errs, tc.want) {
					t.Errorf("%s: want an error mentioning %q, got %v", dir, tc.want, errors.Join(errs...))
				}
			}
		})
	}
}

// TestSecretsMountedForTheNode pins the rendered result the checks above accept: every key
// file flag points into a 0400 Secret volume.
func TestSecretsMountedForTheNode(t *testing.T) {
	r := mustRender(t, mustLoadTree(t, "k8s"), overlayDir)
	c := &checker{r: r}
	n := c.checkNodeContainer(r.Deployments[0])
	if n == nil {
		t.Fatal(c.errs)
	}
	got := map[string]string{}
	for _, f := range keyFileFlags {
		got[f] = c.secretFile(n, f, n.cmd.Value(f))
	}
	want := map[string]string{"tls-cert": "allot-edge-tls", "tls-key": "allot-edge-tls", "gossip-key-file": "allot-secrets",
		"peer-ca": "allot-peer-tls", "peer-cert": "allot-peer-tls", "peer-key": "allot-peer-tls", "data-key-file": "allot-secrets"}
	for f, s := range want {
		if got[f] != s {
			t.Errorf("--%s from Secret %q, want %q", f, got[f], s)
		}
	}
	if len(c.errs) > 0 {
		t.Fatal(errors.Join(c.errs...))
	}
	if r.certificateFor("allot-peer-tls") == nil || r.certificateFor("allot-edge-tls") == nil {
		t.Fatal("the example overlay does not issue both TLS Secrets")
	}
}
