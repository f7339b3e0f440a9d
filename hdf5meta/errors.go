package hdf5meta

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, or is a *limits.Error (errors.Is(err, limits.ErrExceeded)) when the
// file exceeds a limit set with WithLimits, so callers can classify
// failures with errors.Is.
var (
	// ErrFormat reports bytes that do not follow the HDF5 file format:
	// a bad signature, checksum, version or an impossible value.
	ErrFormat = errors.New("hdf5meta: invalid HDF5 format")
	// ErrTruncated reports a structure that extends past the end of the file.
	ErrTruncated = errors.New("hdf5meta: truncated HDF5 file")
	// ErrUnsupported reports a valid feature this reader does not implement.
	ErrUnsupported = errors.New("hdf5meta: unsupported HDF5 feature")
	// ErrNotFound reports a path that names no object.
	ErrNotFound = errors.New("hdf5meta: object not found")
)

// FormatError describes where reading a file failed.
type FormatError struct {
	Offset int64  // file offset of the structure being read, or -1
	Path   string // object path being read, when known
	What   string // the structure and the problem
	Err    error  // one of the sentinel errors
}

// Error says what is wrong, then where: the object's path and the file
// offset, when known.
func (e *FormatError) Error() string {
	var loc string
	switch {
	case e.Path != "" && e.Offset >= 0:
		loc = fmt.Sprintf(" (object %q, offset %d)", e.Path, e.Offset)
	case e.Path != "":
		loc = fmt.Sprintf(" (object %q)", e.Path)
	case e.Offset >= 0:
		loc = fmt.Sprintf(" (offset %d)", e.Offset)
	}
	return fmt.Sprintf("%v: %s%s", e.Err, e.What, loc)
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, What: fmt.Sprintf(format, args...), Err: ErrFormat}
}

func unsupportedErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, What: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

func truncatedErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, What: fmt.Sprintf(format, args...), Err: ErrTruncated}
}

// withPath attaches an object path to a FormatError that has none.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Path == "" {
		cp := *fe
		cp.Path = path
		return &cp
	}
	return err
}
