package icechunk

import "errors"

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
	// ErrInvalidArgument reports a caller error (bad path, index rank, empty name).
	ErrInvalidArgument = errors.New("icechunk: invalid argument")
)
