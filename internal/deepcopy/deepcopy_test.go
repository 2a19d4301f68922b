package deepcopy

import (
	"reflect"
	"testing"
)

func TestCopySharesNothing(t *testing.T) {
	type inner struct{ m map[string]string }
	type outer struct {
		In  inner
		P   *inner
		Xs  []map[string]int
		Arr [1]map[string]bool
	}
	orig := outer{In: inner{m: map[string]string{"a": "1"}}, P: &inner{m: map[string]string{"b": "2"}},
		Xs: []map[string]int{{"c": 3}}, Arr: [1]map[string]bool{{"d": true}}}
	cp := Of(orig)
	if !reflect.DeepEqual(orig, cp) {
		t.Fatalf("the copy differs: %+v", cp)
	}
	cp.In.m["a"], cp.P.m["b"], cp.Xs[0]["c"] = "x", "x", 9
	if orig.In.m["a"] != "1" || orig.P.m["b"] != "2" || orig.Xs[0]["c"] != 3 {
		t.Errorf("the copy shares memory with the original: %+v", orig)
	}
}
