package benchstat

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	ds := []time.Duration{3, 1, 2}
	if got := Median(ds); got != 2 || ds[0] != 3 {
		t.Errorf("Median = %v (input %v)", got, ds)
	}
	if got := Median([]time.Duration{4, 1, 3, 2}); got != 3 {
		t.Errorf("even count: %v, want the upper median 3", got)
	}
	if Median(nil) != 0 {
		t.Error("empty")
	}
}
