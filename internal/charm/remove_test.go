package charm

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRemoveHookHarness(t *testing.T) {
	h, st := newHarness(t)
	fw := h.wl
	fw.calls = nil
	st = h.run(st, h.ch.Hook("remove"))
	want := []string{"remove-services " + harnessUnit, "remove-dirs " + harnessUnit + " keep " + st.Storage[0].Location}
	if diff := cmp.Diff(want, fw.calls); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	// Idempotent: a retried remove asks for the same again and succeeds.
	h.run(st, h.ch.Hook("remove"))
	if len(fw.calls) != 4 || !slices.Equal(fw.calls[2:], want) {
		t.Errorf("second remove: %v", fw.calls)
	}
}
