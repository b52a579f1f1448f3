//go:build race

package proxy

// raceEnabled: the race detector slows each request about tenfold, so the
// load tests send fewer.
const raceEnabled = true
