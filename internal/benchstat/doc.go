// Package benchstat holds the small statistics the benchmarks in bench/
// share: they print medians of several runs, in milliseconds.
package benchstat
