//go:build race

package wire

// raceEnabled tells allocation checks that the race detector adds its own.
const raceEnabled = true
