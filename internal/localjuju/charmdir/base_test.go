package charmdir

import "testing"

func TestSelectBase(t *testing.T) {
	jammy := []Base{{Name: "ubuntu", Channel: "22.04", Architectures: []string{"amd64"}}}
	tests := []struct {
		sentence  string
		manifest  []Base
		series    []string
		requested string
		want      string // DisplayString of the chosen base
		wantErr   string
	}{
		{"no request picks the charm's first supported base", append(jammy, Base{Name: "ubuntu", Channel: "24.04"}), nil, "", "ubuntu@22.04", ""},
		{"a declared base is accepted", jammy, nil, "ubuntu@22.04", "ubuntu@22.04", ""},
		{"a stable risk matches the bare track", jammy, nil, "ubuntu@22.04/stable", "ubuntu@22.04", ""},
		{"a series names its base", jammy, nil, "jammy", "ubuntu@22.04", ""},
		{"metadata series stand in for a manifest", nil, []string{"jammy"}, "", "ubuntu@22.04", ""},
		{"no bases at all is Juju's deploy error", nil, nil, "", "", "charm does not define any bases, not valid"},
		{"a base the charm does not declare", jammy, nil, "ubuntu@20.04", "",
			`base "ubuntu@20.04/stable" is not supported, supported bases are: ubuntu@22.04`},
		{"a base Juju does not run workloads on", jammy, nil, "ubuntu@16.04", "",
			"mini is not available on the following base: ubuntu@16.04/stable"},
		{"a charm only for unsupported bases", []Base{{Name: "ubuntu", Channel: "18.04"}}, nil, "", "",
			`the charm defined bases "ubuntu@18.04" not supported`},
		{"an unknown series", jammy, nil, "warty", "", `series "warty" not valid`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			c := &Charm{Meta: Metadata{Name: "mini", Series: tt.series}, Manifest: Manifest{Bases: tt.manifest}}
			got, err := c.SelectBase(tt.requested)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.DisplayString() != tt.want {
				t.Fatalf("got %v, %v; want %s", got.DisplayString(), err, tt.want)
			}
		})
	}
}
