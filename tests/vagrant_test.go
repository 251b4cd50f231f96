package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVagrantfileValid runs `vagrant validate --ignore-provider` on a copy of
// examples/vagrant, with VAGRANT_HOME in a temporary directory: no box, no provider and
// no network are needed.
func TestVagrantfileValid(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "examples", "vagrant")
	copyDir(t, "../examples/vagrant", dir)
	cmd := exec.Command("vagrant", "validate", "--ignore-provider")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VAGRANT_HOME="+filepath.Join(work, "vagrant-home"), "VAGRANT_CHECKPOINT_DISABLE=1")
	r := runCmd(t, cmd)
	if r.code != 0 || !strings.Contains(r.stdout, "Vagrantfile validated successfully") {
		t.Errorf("vagrant validate: %s", r)
	}
}

// TestVagrantProvision runs the box's provisioning script twice in the sandbox, with a
// copy of the project (its examples and a netlab binary in bin/, as `make build` leaves
// it) bind-mounted at /vagrant: the lab comes up and checks out, and the second run
// changes nothing.
func TestVagrantProvision(t *testing.T) {
	cleanSandbox(t)
	project := t.TempDir()
	copyDir(t, "../examples", filepath.Join(project, "examples"))
	copyFile(t, netlabBin(), filepath.Join(project, "bin", "netlab"), 0o755)
	bindir := t.TempDir()
	if _, err := os.Stat("/vagrant"); os.IsNotExist(err) {
		// The one trace on the machine, as for /run/netns: an empty mount point.
		if err := os.Mkdir("/vagrant", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/vagrant") })
	}
	sh(t, "mount --bind "+project+" /vagrant") // in the sandbox's private mount namespace
	t.Cleanup(func() { exec.Command("umount", "/vagrant").Run() })
	provision := "NETLAB_BIN_DIR=" + bindir + " sh /vagrant/examples/vagrant/provision.sh"

	first := sh(t, provision)
	if !strings.Contains(first, "Apply complete") || !strings.Contains(first, "Check passed") {
		t.Errorf("first provisioning:\n%s", first)
	}
	if got := sh(t, "ip netns list"); !strings.Contains(got, "testns1") || !strings.Contains(got, "testns2") {
		t.Errorf("after provisioning, ip netns list:\n%s", got)
	}
	second := sh(t, provision)
	if !strings.Contains(second, "No changes. Lab twons is up to date.") || !strings.Contains(second, "Check passed") {
		t.Errorf("second provisioning changed something:\n%s", second)
	}
	mustNetlab(t, "destroy", "--name", "twons")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(to, rel), info.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
