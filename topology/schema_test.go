package topology

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v4"
)

var update = flag.Bool("update", false, "rewrite schema/netlab.schema.json")

// compiledSchema compiles Schema with a real JSON Schema (2020-12) validator.
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// instance is a YAML document as the JSON value a schema validator takes.
func instance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaCommitted: schema/netlab.schema.json is Schema (go test ./topology -update
// rewrites it), and every example names it for editors.
func TestSchemaCommitted(t *testing.T) {
	const file = "../schema/netlab.schema.json"
	if *update {
		if err := os.WriteFile(file, Schema(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, Schema()) {
		t.Errorf("%s is not the schema of this loader (go test ./topology -update): %v", file, err)
	}
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, f := range examples {
		src, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(src), "# yaml-language-server: $schema=../schema/netlab.schema.json\n") {
			t.Errorf("%s does not start with the yaml-language-server line naming the schema", f)
		}
	}
}

// TestSchemaValidatesExamples: every example, and the valid file of these tests, is
// valid under the schema.
func TestSchemaValidatesExamples(t *testing.T) {
	s := compiledSchema(t)
	files, _ := filepath.Glob("../examples/*.yaml")
	more, _ := filepath.Glob("../examples/*/*.yaml")
	for _, f := range append(files, more...) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(instance(t, src)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := s.Validate(instance(t, []byte(valid))); err != nil {
		t.Errorf("the valid topology: %v", err)
	}
}

// TestSchemaRejects: bad inputs that validate refuses and that a schema can express
// are refused by the schema too.
func TestSchemaRejects(t *testing.T) {
	s := compiledSchema(t)
	for _, tc := range []struct{ name, edit string }{
		{"unknown field", "      m1: {addresses:=>      m1: {adresses:"},
		{"no name", "name: lab\n=>"},
		{"bad mtu", "      m1: {addresses:=>      m1: {mtu: 20, addresses:"},
		{"bad txqueuelen", "      m1: {addresses:=>      m1: {txqueuelen: 0, addresses:"},
		{"forwarding not a bool", "forwarding: true=>forwarding: yes please"},
		{"not a net sysctl", "    forwarding: true\n=>    forwarding: true\n    sysctls: {kernel.panic: 1}\n"},
		{"route without via or dev", "- {to: default, via: 10.1.0.1}=>- {to: default}"},
		{"metric over 32 bits", "- {to: default, via: 10.1.0.1}=>- {to: default, via: 10.1.0.1, metric: 4294967296}"},
		{"link of three", "  - [host:m1, ns1:e0]=>  - [host:m1, ns1:e0, ns1:e1]"},
		{"bad endpoint", "  - [host:m1, ns1:e0]=>  - [host:m1, ns1]"},
		{"loss without %", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {loss: 1}}"},
		{"bad rate", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {rate: 10mb}}"},
		{"empty impairment", "  - [host:m1, ns1:e0]=>  - {endpoints: [host:m1, ns1:e0], impair: {}}"},
		{"netns two ways", "  ns1:\n=>  ns1:\n    netns: {pid: 12, name: other}\n"},
		{"unknown macvlan mode", "      m1: {addresses: [10.1.0.1/24]}=>      m1: {addresses: [10.1.0.1/24]}\n      mv: {macvlan: {parent: eth0, mode: fast}}"},
		{"address without length", "[10.1.0.1/24]=>[10.1.0.1]"},
	} {
		old, repl, _ := strings.Cut(tc.edit, "=>")
		src := strings.Replace(valid, old, repl, 1)
		if src == valid {
			t.Fatalf("%s: the edit does not apply", tc.name)
		}
		if _, err := Parse("lab.yaml", []byte(src)); err == nil {
			t.Errorf("%s: validate accepts it", tc.name)
		}
		if err := s.Validate(instance(t, []byte(src))); err == nil {
			t.Errorf("%s: the schema accepts it", tc.name)
		}
	}
}
