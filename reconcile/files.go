package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netlab-go/netlab/plan"
)

// The files of /etc/netns/NODE are plain files: no namespace is entered to read or write
// them. A file is written to a temporary file in its directory and renamed over the old
// one, so `ip netns exec` never binds a half-written hosts file.

// observeFiles reads the files of the scope: a file's content, or a directory's listing.
func observeFiles(keys []plan.FileKey, s *plan.State) error {
	for _, k := range keys {
		if k.IsDir() {
			entries, err := os.ReadDir(k.Path())
			if errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return fmt.Errorf("observe %s: %w", k.Path(), err)
			}
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			s.Files[k] = strings.Join(names, " ")
			continue
		}
		b, err := os.ReadFile(k.Path())
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("observe %s: %w", k.Path(), err)
		}
		s.Files[k] = plan.Digest(string(b))
	}
	return nil
}

func applyFile(a plan.Action, k plan.FileKey) error {
	path := k.Path()
	switch {
	case k.IsDir() && a.Kind == plan.Delete:
		return os.Remove(path)
	case k.IsDir():
		return os.MkdirAll(path, 0o755)
	case a.Kind == plan.Delete:
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".netlab-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(a.After.(string)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
