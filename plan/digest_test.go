package plan

import (
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"one line", "127.0.0.1\tlocalhost\n", "sha256:02c82a9ffce44f1517b0b64380e11ea41d15812267a0fbff97221b5a6921df50"},
		{"longer than one read", strings.Repeat("10.0.0.1\tm1.host host\n", 5000), "sha256:ea50ac19e5c7eebacf0b12a98bc97d3d8af5784e8726a9805a5007718f0ce938"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Digest(tc.content); got != tc.want {
				t.Errorf("Digest = %s, want %s", got, tc.want)
			}
			got, err := DigestReader(strings.NewReader(tc.content))
			if err != nil || got != tc.want {
				t.Errorf("DigestReader = %s, %v; want %s", got, err, tc.want)
			}
			var d digester
			d.of("something else")
			if got := d.of(tc.content); got != tc.want {
				t.Errorf("digester = %s, want %s", got, tc.want)
			}
		})
	}
}
