// Package chaos is Allot's fault-injection harness: it runs real `allot node` processes
// (clustertest) against a throwaway PostgreSQL (pgtest), drives concurrent clients while a
// nemesis injects faults chosen at random from a recorded seed, records every operation with
// its invocation and completion time, and then checks the history for linearizability with
// porcupine against a model of a resource (model.go) and audits the database
// (clustertest.Audit).
//
// # Pieces
//
//   - Net (netns.go, firewall.go): when the test runs as root and `ip netns` works, every node
//     gets a network namespace joined by a veth pair to a bridge on a private 10.213.x.0/24
//     that overlaps no route of the host. PostgreSQL and the test process stay in the root
//     namespace and are reached through the bridge address. Partitions and packet loss are
//     iptables rules in a node's namespace (chain ALLOTCHAOS); latency is tc netem when the
//     kernel has it. Elsewhere the nodes run on 127.0.0.1 with process faults only.
//   - Testbed (testbed.go): PostgreSQL, n nodes, membership convergence, resources.
//   - Workload (workload.go) and Client (client.go): clients that hold, confirm, cancel and
//     read through random nodes with idempotency keys and bounded retries; each operation
//     ends ok, refused (sold_out, conflict) or unknown.
//   - Nemesis (nemesis.go): one fault at a time (kill, pause, database restart, partitions,
//     loss, netem), healed and followed by a convergence wait.
//   - Check (check.go): porcupine per resource; a non-linearizable resource is classified
//     (stale read, stale refusal, stale acknowledgement, write) and its culprit located.
//   - RunRound (round.go) ties it together and writes the report and, on findings or when
//     asked, the artifacts (history.jsonl, linearizability.html, faults.json, logs).
//
// TestChaos reads the campaign from the environment (ALLOT_CHAOS_SEED, _DURATION, _ROUND,
// _OUT, _NET, _FAULTS); docs/RELIABILITY.md describes them, what is promised and
// what was found. Everything the harness creates (processes, namespaces, links, rules,
// directories) is removed in t.Cleanup, and leftovers of a crashed run are removed by name
// (prefixes allotchaos- and alc<pid>) the next time.
package chaos
