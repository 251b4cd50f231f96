package plan_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/netlab-go/netlab/plan"
	"github.com/netlab-go/netlab/reconcile/fakekernel"
)

// readmeJSON is where the README's JSON example sits, between these two lines.
const (
	readmeJSONBegin = "<!-- JSON example: the plan of plan/testdata/readme.yaml (go test ./plan -update rewrites it) -->\n```json\n"
	readmeJSONEnd   = "```\n"
)

// foldArrays writes every array of strings or numbers on one line, so that a command
// reads as one.
var stringArray = regexp.MustCompile(`\[\n\s*((?:"(?:[^"\\]|\\.)*"|\d+)(?:,\n\s*(?:"(?:[^"\\]|\\.)*"|\d+))*)\n\s*\]`)

func foldArrays(s string) string {
	return stringArray.ReplaceAllStringFunc(s, func(m string) string {
		inner := stringArray.FindStringSubmatch(m)[1]
		items := regexp.MustCompile(`,\n\s*`).Split(inner, -1)
		return "[" + strings.Join(items, ", ") + "]"
	})
}

// TestREADMEJSON: the README's JSON example is the plan of testdata/readme.yaml as
// `netlab plan -o json` prints it (with arrays of strings and numbers on one line), so that it
// cannot drift from the format.
func TestREADMEJSON(t *testing.T) {
	topo := load(t, "testdata/readme.yaml")
	p, err := diff(t, fakekernel.New(), topo.Name, topo.Desired(), plan.NewState())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plan.WriteJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/readme.plan.json", b.String())
	want := foldArrays(b.String())
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(readme), readmeJSONBegin)
	block, after, ok2 := strings.Cut(rest, readmeJSONEnd)
	if !ok || !ok2 {
		t.Fatalf("README.md has no JSON example opened by %q", readmeJSONBegin)
	}
	if block == want {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(before+readmeJSONBegin+want+readmeJSONEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's JSON example differs from the plan of testdata/readme.yaml; go test ./plan -update rewrites it:\n%s", want)
}
