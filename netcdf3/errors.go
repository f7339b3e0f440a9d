package netcdf3

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error that Open returns for a malformed file is a
// *FormatError that wraps one of them; use errors.Is to test for them.
var (
	// ErrFormat reports a header that breaks the format's rules: a bad magic
	// number, an unknown tag or type, a dimension id out of range, offsets
	// that overlap, sizes that overflow.
	ErrFormat = errors.New("netcdf3: invalid file")
	// ErrTruncated reports a file that ends before its header does, or
	// before the data its header describes.
	ErrTruncated = errors.New("netcdf3: truncated file")
	// ErrUnsupported reports a well-formed file that this package does not
	// read, such as an unknown format version.
	ErrUnsupported = errors.New("netcdf3: unsupported file")
)

// A FormatError describes a problem in a file's header: what was being read,
// where, and which of ErrFormat, ErrTruncated or ErrUnsupported it is.
type FormatError struct {
	Offset int64  // byte offset in the file where the problem was found
	What   string // what was being read or checked
	Err    error  // ErrFormat, ErrTruncated or ErrUnsupported
}

// Error gives the problem and its file offset.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: %s (offset %d)", e.Err, e.What, e.Offset)
}

// Unwrap returns the sentinel error, so that errors.Is works.
func (e *FormatError) Unwrap() error { return e.Err }
