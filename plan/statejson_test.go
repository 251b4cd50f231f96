package plan_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
)

// TestStateJSONRoundTrip: what Observe alone fills (here MarkedFiles and VethPeers) is
// written and read back as the rest is: a saved plan's fingerprint hashes it.
func TestStateJSONRoundTrip(t *testing.T) {
	s := plan.NewState()
	s.Namespaces["n1"] = true
	s.Files[plan.FileKey{NS: "n1", Name: "hosts"}] = plan.Digest("# Written by netlab for lab x; ...\n")
	s.MarkedFiles[plan.FileKey{NS: "n1", Name: "hosts"}] = true
	s.MarkedFiles[plan.SharedHosts("x")] = true
	s.VethPeers[plan.LinkKey{NS: "n1", Name: "e1"}] = plan.LinkKey{NS: plan.Host, Name: "h1"}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, present, err := plan.DecodeState(json.NewDecoder(bytes.NewReader(b)))
	if err != nil || !present {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("read back %+v\nwant %+v\nfrom %s", back, s, b)
	}
}

// TestDecodeStateRefuses: a state read back (the record is input like any other) with
// a field this netlab does not know, a field given twice or a list that is not one is
// refused; null is no state, and {} an empty one.
func TestDecodeStateRefuses(t *testing.T) {
	cases := []struct {
		name, in, want string // want "" for no error
		present        bool
	}{
		{"null", `null`, "", false},
		{"empty", `{}`, "", true},
		{"null list", `{"links": null}`, "", true},
		{"unknown field", `{"namespaces": [], "tunnels": []}`, `unknown field "tunnels"`, false},
		{"field twice", `{"namespaces": ["a"], "namespaces": ["b"]}`, `field "namespaces" given twice`, false},
		{"not a list", `{"namespaces": "n1"}`, "namespaces: a list", false},
		{"not an object", `[]`, "a state is a JSON object", false},
		{"unknown field in an element", `{"routes": [{"ns": "n1", "gateway": "x"}]}`, `unknown field "gateway"`, false},
		{"truncated", `{"namespaces": ["n1"`, "decode state", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader([]byte(c.in)))
			dec.DisallowUnknownFields()
			_, present, err := plan.DecodeState(dec)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one saying %q", err, c.want)
			case present != c.present:
				t.Errorf("present %v, want %v", present, c.present)
			}
		})
	}
}
