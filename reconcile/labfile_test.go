package reconcile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckLabFile(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, name := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(path(name), []byte("name: lab\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(path("a.yaml"), path("sym.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path("a.yaml"), path("hard.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		file, recorded string
		refused        bool
	}{
		{"the recorded file", path("a.yaml"), path("a.yaml"), false},
		{"another file that exists", path("b.yaml"), path("a.yaml"), true},
		{"a symlink to the recorded file", path("sym.yaml"), path("a.yaml"), false},
		{"a hard link to it", path("hard.yaml"), path("a.yaml"), false},
		{"the recorded file is gone (moved)", path("b.yaml"), path("gone.yaml"), false},
		{"the given file is missing", path("gone.yaml"), path("a.yaml"), true},
		{"standard input", "-", path("a.yaml"), false},
		{"recorded from standard input", path("b.yaml"), "-", false},
		{"a record without a file", path("b.yaml"), "", false},
		{"no file given (destroy --name)", "", path("a.yaml"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := checkLabFile("lab", tc.file, tc.recorded)
			if (e != nil) != tc.refused {
				t.Fatalf("checkLabFile(%s, %s) = %v, want refused %v", tc.file, tc.recorded, e, tc.refused)
			}
			if e != nil && (e.File != tc.file || e.Recorded != tc.recorded || e.Lab != "lab") {
				t.Errorf("error names %+v", e)
			}
		})
	}
}
