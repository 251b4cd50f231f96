package plan

import (
	"regexp"
	"testing"
)

// TestIsSafeName: the loop accepts exactly what the regular expression it replaces
// accepts.
func TestIsSafeName(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	for _, s := range []string{"", "a", "Z9", "_x", "n0", "a.b-c_d", ".a", "-a", "a.", "a-",
		"..", ".", "a/b", "a b", "a@b", "ä", "a\x00", "A", "0", "_", "a:b", "a\n", "lab-1.2"} {
		if got, want := isSafeName(s), re.MatchString(s); got != want {
			t.Errorf("isSafeName(%q) = %v, want %v", s, got, want)
		}
	}
}
