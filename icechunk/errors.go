package icechunk

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidID reports a malformed Crockford base32 id.
	ErrInvalidID = errors.New("icechunk: invalid id")
	// ErrHeader reports a metadata file whose binary header is short, has the wrong
	// magic bytes, or names an unknown spec version, file type or compression.
	ErrHeader = errors.New("icechunk: invalid file header")
	// ErrCorrupt reports a FlatBuffers payload that is truncated or inconsistent.
	ErrCorrupt = errors.New("icechunk: corrupt metadata file")
	// ErrConflict reports a conditional write that lost: the object exists (create)
	// or changed since it was read (compare-and-swap).
	ErrConflict = errors.New("icechunk: conditional write conflict")
	// ErrNoRef reports a branch or tag that does not exist.
	ErrNoRef = errors.New("icechunk: no such branch or tag")
	// ErrTagExists reports a tag name that exists or was deleted (tags are never reused).
	ErrTagExists = errors.New("icechunk: tag exists")
	// ErrNoNode reports a path that is not a node of the snapshot.
	ErrNoNode = errors.New("icechunk: no such node")
	// ErrNoChunk reports a chunk key that has no chunk reference.
	ErrNoChunk = errors.New("icechunk: no chunk reference")
	// ErrIncomplete reports references meant as the whole new content of a
	// branch (ReplaceFromRefs) that lack a node or chunk its head has.
	ErrIncomplete = errors.New("icechunk: references drop part of the snapshot")
	// ErrInvalidArgument reports a caller error (bad path, index rank, empty name).
	ErrInvalidArgument = errors.New("icechunk: invalid argument")
)

// ConflictError reports a commit that lost the race for its branch and
// could not be rebased onto the new head: a commit in between changed a
// node this session changed too (or the branch was reset, or it kept
// moving). Nothing of the losing commit is visible on the branch.
// errors.Is(err, ErrConflict) holds.
type ConflictError struct {
	Branch string   // the branch the commit was for
	Head   ObjectID // the branch's head the commit could not be rebased onto
	Paths  []string // the nodes both changed, if that was the reason
	Reason string
}

// Error says which branch, why and which nodes.
func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("icechunk: commit to %q conflicts with %s: %s", e.Branch, e.Head, e.Reason)
	if len(e.Paths) > 0 {
		msg += " (" + strings.Join(e.Paths, ", ") + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }
