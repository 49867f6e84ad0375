//go:build race

package resource

// raceEnabled: the race detector is on. Under it sync.Pool drops a random quarter of what is
// put back (to shake out code that relies on reuse), so allocation counts of pooled paths
// are not what they are without it.
const raceEnabled = true
