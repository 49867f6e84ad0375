// Package deploy holds Allot's deployment artefacts and the tests that hold them to the
// node's contract:
//
//   - Dockerfile: the container image (static binary on distroless, non-root);
//   - k8s/: kustomize base and an example overlay for Kubernetes;
//   - compose.yaml: a local cluster of three nodes on one CockroachDB node;
//   - grafana/: the Grafana dashboard; prometheus/: the alerting rules.
//
// The package has no code: its tests render the manifests, decode them strictly into the
// Kubernetes API types and check that every port, path, flag and environment variable they
// name exists in the node (cmd.NodeConfig.RegisterFlags, api.HealthzPath, ...).
// docs/OPERATIONS.md explains how to deploy, scale and run Allot with them.
package deploy
