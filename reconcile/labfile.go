package reconcile

import (
	"fmt"
	"os"
)

// OtherFileError refuses a topology file for a lab whose record names another file that
// still exists: a lab is its name, so two files of one name are one lab, and planning
// from this file would change, or destroy, what the other built. It is usually a
// tutorial's file copied and changed without a name of its own.
type OtherFileError struct {
	Lab      string
	File     string // the file given
	Recorded string // the file the lab was applied from
	Effect   string // what carrying on from File would do, set by the caller
	Fix      string // what to run instead, set by the caller
}

func (e *OtherFileError) Error() string {
	return fmt.Sprintf("lab %s was applied from %s, which still exists; %s names the same lab (name: %s), so %s; nothing was changed. %s",
		e.Lab, e.Recorded, e.File, e.Lab, e.Effect, e.Fix)
}

// checkLabFile returns an *OtherFileError when file is not the topology file recorded
// for the lab while that one still exists. A file of the same inode (another path to
// it, a link) is the same file; a recorded file that is gone was moved or renamed, and
// file takes its place; standard input ("-") and a record without a file are never
// refused.
func checkLabFile(lab, file, recorded string) *OtherFileError {
	if file == "" || recorded == "" || file == "-" || recorded == "-" || file == recorded {
		return nil
	}
	was, err := os.Stat(recorded)
	if err != nil {
		return nil
	}
	if is, err := os.Stat(file); err == nil && os.SameFile(is, was) {
		return nil
	}
	return &OtherFileError{Lab: lab, File: file, Recorded: recorded}
}
