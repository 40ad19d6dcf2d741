//go:build race

package main

// raceDetector: the race detector slows the server several times, so the
// largest end-to-end loads are scaled down under it (.ci/run also runs
// them at full size without it).
const raceDetector = true
