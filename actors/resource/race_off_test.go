//go:build !race

package resource

// raceEnabled: see race_on_test.go.
const raceEnabled = false
