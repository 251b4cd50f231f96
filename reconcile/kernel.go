package reconcile

import (
	"context"

	"github.com/netlab-go/netlab/plan"
)

// Kernel is what netlab needs of the kernel: to read the objects in a scope, and to
// carry out one action. Apply is idempotent: an object already there when it creates
// one, or already gone when it deletes one, counts as success.
type Kernel interface {
	Observe(ctx context.Context, scope plan.Scope) (plan.State, error)
	Apply(ctx context.Context, a plan.Action) error
	// Namespaces lists the names under /run/netns and /etc/netns that could be nodes:
	// where destroy looks for a lab by its marks when its record is lost.
	Namespaces(ctx context.Context) ([]plan.NS, error)
}
