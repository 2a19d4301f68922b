package benchstat

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Median returns the median of ds (the upper one of an even count); 0 for
// none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Millis prints d in whole milliseconds ("12 ms").
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// MillisList prints every run, in order ("12 ms 15 ms 11 ms").
func MillisList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = Millis(d)
	}
	return strings.Join(parts, " ")
}
