package names

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsValidApplication(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"one letter", "a", true},
		{"plain", "postgresql", true},
		{"digits after the first letter", "pg14", true},
		{"hyphenated", "pg-client", true},
		{"several segments", "my-pg-client", true},
		{"segment starting with digits", "pg-1a", true},
		{"segment ending with digits", "pg-a1", true},
		{"digits around a letter", "pg-1a2", true},
		{"empty", "", false},
		{"starts with a digit", "1pg", false},
		{"starts with a hyphen", "-pg", false},
		{"segment of digits only", "pg-1", false},
		{"segment of digits only in the middle", "pg-1-client", false},
		{"ends with a hyphen", "pg-", false},
		{"double hyphen", "pg--client", false},
		{"uppercase", "Postgresql", false},
		{"underscore", "pg_client", false},
		{"unit name", "pg/0", false},
		{"dot", "pg.client", false},
		{"space", "pg ", false},
		{"non-ASCII letter", "pgé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsValidApplication(tt.in); got != tt.want {
				t.Errorf("IsValidApplication(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsValidUnit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"unit 0", "pg/0", true},
		{"unit 7", "pg/7", true},
		{"several digits", "pg/120", true},
		{"hyphenated application", "pg-client/3", true},
		{"application with digits", "pg14-a1/0", true},
		{"leading zero", "pg/01", false},
		{"zeros only", "pg/00", false},
		{"negative", "pg/-1", false},
		{"plus sign", "pg/+1", false},
		{"no number", "pg/", false},
		{"no application", "/0", false},
		{"application only", "pg", false},
		{"tag", "unit-pg-0", false},
		{"two slashes", "pg/0/1", false},
		{"letter in number", "pg/1a", false},
		{"non-ASCII digit", "pg/١", false},
		{"invalid application: digit segment", "pg-1/0", false},
		{"invalid application: uppercase", "PG/0", false},
		{"trailing newline", "pg/0\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsValidUnit(tt.in); got != tt.want {
				t.Errorf("IsValidUnit(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnitTag(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pg/0", "unit-pg-0"},
		{"pg-client/12", "unit-pg-client-12"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, UnitTag(tt.in)); diff != "" {
				t.Errorf("UnitTag(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestUnitFromTag(t *testing.T) {
	type result struct {
		Name string
		OK   bool
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"simple", "unit-pg-0", result{"pg/0", true}},
		{"hyphenated application", "unit-pg-client-12", result{"pg-client/12", true}},
		{"application segment with digits", "unit-pg-1a-3", result{"pg-1a/3", true}},
		{"leading zero", "unit-pg-01", result{}},
		{"no number", "unit-pg", result{}},
		{"empty number", "unit-pg-", result{}},
		{"no application", "unit--0", result{}},
		{"prefix only", "unit-", result{}},
		{"application tag", "application-pg", result{}},
		{"unit name", "pg/0", result{}},
		{"uppercase", "unit-PG-0", result{}},
		{"number in the middle is a segment of digits", "unit-pg-1-2", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, ok := UnitFromTag(tt.in)
			if diff := cmp.Diff(tt.want, result{name, ok}); diff != "" {
				t.Errorf("UnitFromTag(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestTagRoundTrip: every valid unit name comes back from its tag.
func TestTagRoundTrip(t *testing.T) {
	for _, name := range []string{"pg/0", "pg-client/12", "a1-b2c/1000"} {
		got, ok := UnitFromTag(UnitTag(name))
		if !ok || got != name {
			t.Errorf("UnitFromTag(UnitTag(%q)) = %q, %v", name, got, ok)
		}
	}
}
