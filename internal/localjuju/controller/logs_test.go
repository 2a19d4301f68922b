package controller

import "testing"

func TestEntityName(t *testing.T) {
	for in, want := range map[string]string{
		"unit-pg-0":         "pg/0",
		"unit-pg-client-12": "pg-client/12",
		"pg/0":              "pg/0",
		"pg":                "pg",
		"application-pg":    "pg",
		"unit-app":          "unit-app",   // an application named unit-app
		"unit-pg-01":        "unit-pg-01", // not a unit tag: leading zero
		"controller":        "controller",
	} {
		if got := entityName(in); got != want {
			t.Errorf("entityName(%q) = %q, want %q", in, got, want)
		}
	}
}
