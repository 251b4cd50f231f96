package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
)

// The files of /etc/netns/NODE are plain files: no namespace is entered to read or write
// them. A file is written to a temporary file in its directory and renamed over the old
// one, so `ip netns exec` never binds a half-written hosts file.

// observeFiles reads the files of the scope: a file's content (its Digest), or a
// directory's listing.
// A lab of N namespaces has N hosts files of N lines each, so they are read and digested
// in parallel, GOMAXPROCS at a time.
func observeFiles(ctx context.Context, scope plan.Scope, s *plan.State) error {
	var mu sync.Mutex // guards s.Files
	return forEach(ctx, len(scope.Files), func(i int) error {
		k := scope.Files[i]
		var v string
		if k.IsDir() {
			entries, err := os.ReadDir(k.Path())
			if errors.Is(err, os.ErrNotExist) {
				return nil
			} else if err != nil {
				return fmt.Errorf("observe %s: %w", k.Path(), err)
			}
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			v = strings.Join(names, " ")
		} else if scope.UnreadFiles[k] {
			if _, err := os.Lstat(k.Path()); errors.Is(err, os.ErrNotExist) {
				return nil
			} else if err != nil {
				return fmt.Errorf("observe %s: %w", k.Path(), err)
			}
			v = plan.FileUnread
		} else {
			f, err := os.Open(k.Path())
			if errors.Is(err, os.ErrNotExist) {
				return nil
			} else if err != nil {
				return fmt.Errorf("observe %s: %w", k.Path(), err)
			}
			v, err = plan.DigestReader(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("observe %s: %w", k.Path(), err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		s.Files[k] = v
		return nil
	})
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
