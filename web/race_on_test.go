//go:build race

package web_test

// raceEnabled says the test binary runs with the race detector, so that the
// tallyq binary the browser test builds is instrumented too.
const raceEnabled = true
