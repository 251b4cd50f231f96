package plan_test

import (
	"bytes"
	"encoding/json"
	"reflect"
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
