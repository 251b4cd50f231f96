package record

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode feeds the record loader arbitrary bytes. It must never panic, and a record
// it accepts encodes to one it reads back the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"format_version": 1, "lab": "lab", "owned": {"namespaces": ["n1"], "links": [], "addresses": [], "routes": [], "sysctls": [{"ns": "host", "name": "net.ipv4.ip_forward", "value": "0"}], "nat": []}, "wants": [{"ns": "host", "name": "net.ipv4.ip_forward", "value": "1"}]}`))
	f.Add([]byte(`{"format_version": 1, "lab": "lab", "owned": null}`))
	f.Add([]byte(`{"format_version": 1, "lab": "lab", "owned": {"files": [{"ns": "../x", "name": "hosts", "content": ""}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decode(bytes.NewReader(data), "lab")
		if err != nil {
			return
		}
		first, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decode(bytes.NewReader(first), "lab")
		if err != nil {
			t.Fatalf("a record read back is refused: %v\n%s", err, first)
		}
		if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
			t.Fatalf("not the same when read back:\n%s\n%s", first, second)
		}
		if err := again.Owned.Validate(); err != nil {
			t.Fatalf("accepted an invalid state: %v", err)
		}
	})
}
