// Package bench holds benchmarks for the tlspake module that compare it with
// other implementations, such as BenchmarkCPace, which runs a whole CPace
// exchange with tlspake/cpace and with filippo.io/cpace, the older,
// non-standard ristretto255-based Go CPace, as a peer in the same run.
//
// It also holds the cross-architecture measurements: bench/cmd/bench-report
// runs the suite in bench/internal/perf natively and under qemu-user and
// writes REPORT.md and report.png, expressing every figure in
// X25519-equivalents; bench/cmd/bench-device builds the same suite as one
// static binary for a real board; bench/cmd/cross builds the programs for
// every target. Run the benchmarks with
//
//	go test -run '^$' -bench . -benchmem -count 6 ./bench/
//
// and compare the results with benchstat (golang.org/x/perf/cmd/benchstat).
package bench
