package service

import (
	"slices"
	"testing"
)

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		out  string
		n    int
		want []string
	}{
		{"a\nb\nc\n\n", 2, []string{"b", "c"}},
		{"only\n", 5, []string{"only"}},
		{"", 3, []string{""}},
	} {
		if got := LastLines(tc.out, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tc.out, tc.n, got, tc.want)
		}
	}
}
