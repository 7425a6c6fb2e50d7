// Package bench holds benchmarks for the tlspake module that compare it with
// other implementations, such as BenchmarkCPace, which runs a whole CPace
// exchange with tlspake/cpace and with filippo.io/cpace, the older,
// non-standard ristretto255-based Go CPace, as a peer in the same run.
//
// The package will later also hold the cross-architecture performance report.
// It has no exported API; everything lives in its _test.go files. Run the
// benchmarks with
//
//	go test -run '^$' -bench . -benchmem -count 6 ./bench/
//
// and compare the results with benchstat (golang.org/x/perf/cmd/benchstat).
package bench
