package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// rendered is a kustomization's output, decoded into the Kubernetes API types.
type rendered struct {
	Deployments []*appsv1.Deployment
	Services    []*corev1.Service
	PDBs        []*policyv1.PodDisruptionBudget
	HPAs        []*autoscalingv2.HorizontalPodAutoscaler
	Secrets     []*corev1.Secret
	All         []runtime.Object
	// CertManager holds the cert-manager.io objects (transport_test.go decodes them).
	CertManager []cmObject
	// NATS holds the event bus's objects (labelled app.kubernetes.io/name: nats), kept out
	// of the node's lists above: nats_test.go checks them.
	NATS natsObjects
}

// strictDecoder decodes JSON into the registered API types and reports unknown, duplicate
// and mis-cased fields as errors, as `kubectl apply --validate=strict` does. A kind that is
// not registered is an error too: add its API group to the scheme when you add one.
func strictDecoder() (*kjson.Serializer, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, batchv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Strict: true}), nil
}

// render builds the kustomization in dir of fsys and decodes every object strictly.
func render(fsys filesys.FileSystem, dir string) (*rendered, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	dec, err := strictDecoder()
	if err != nil {
		return nil, fmt.Errorf("scheme: %w", err)
	}
	out := &rendered{}
	for _, r := range resources.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		if strings.HasPrefix(r.GetApiVersion(), "cert-manager.io/") {
			o, err := decodeCertManager(data)
			if err != nil {
				return nil, fmt.Errorf("decode %s/%s: %w", r.GetKind(), r.GetName(), err)
			}
			out.CertManager = append(out.CertManager, o)
			continue
		}
		obj, _, err := dec.Decode(data, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode %s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		out.All = append(out.All, obj)
		if r.GetLabels()["app.kubernetes.io/name"] == "nats" {
			out.NATS.add(obj)
			continue
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out.Deployments = append(out.Deployments, o)
		case *corev1.Service:
			out.Services = append(out.Services, o)
		case *policyv1.PodDisruptionBudget:
			out.PDBs = append(out.PDBs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			out.HPAs = append(out.HPAs, o)
		case *corev1.Secret:
			out.Secrets = append(out.Secrets, o)
		}
	}
	return out, nil
}

// mustLoadTree copies the directory root from disk into an in-memory file system under
// the same relative path, so that tests can break a copy of the manifests.
func mustLoadTree(tb testing.TB, root string) filesys.FileSystem {
	tb.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := "/" + filepath.ToSlash(p)
		if d.IsDir() {
			return mem.MkdirAll(dst)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(dst, data)
	})
	if err != nil {
		tb.Fatalf("load %s: %v", root, err)
	}
	return mem
}

// mustRender renders dir of fsys and fails the test on any error.
func mustRender(tb testing.TB, fsys filesys.FileSystem, dir string) *rendered {
	tb.Helper()
	out, err := render(fsys, dir)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// mustReplaceOnce edits a file of fsys, replacing old, which must occur exactly once, so a
// negative case cannot silently stop applying when the manifests change.
func mustReplaceOnce(tb testing.TB, fsys filesys.FileSystem, path, old, new string) {
	tb.Helper()
	data, err := fsys.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		tb.Fatalf("%s: %q occurs %d times, want exactly once", path, old, n)
	}
	if err := fsys.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1))); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
}

func TestRenderRejectsUnknownFields(t *testing.T) {
	fsys := mustLoadTree(t, "k8s")
	mustReplaceOnce(t, fsys, "/k8s/base/deployment.yaml", "minReadySeconds: 10", "minReadySecond: 10")
	_, err := render(fsys, "/k8s/base")
	if err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("render of a misspelt field: err = %v, want an unknown-field error", err)
	}
}
