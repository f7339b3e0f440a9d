package kerchunk

import (
	"errors"
	"fmt"

	"github.com/greensight/vzarr/hdf5meta"
)

// UnusableType returns why no Zarr reader can use data of HDF5 type t
// (region references, compounds with variable-length members, integers
// of 16 bytes, ...), or "" when t has a Zarr v2 representation. Such
// variables are left out of the references unless Options.Strict.
func UnusableType(t *hdf5meta.Datatype) string {
	var u unsupportedType
	if _, err := zarrType(t); errors.As(err, &u) {
		return u.reason()
	}
	return ""
}

// skipReason decides whether the error err of a variable leaves the
// variable out instead of failing the file, and says why.
func (o *Options) skipReason(err error) (string, bool) {
	if o.Strict {
		return "", false
	}
	var u unsupportedType
	switch {
	case errors.As(err, &u):
		return u.reason(), true
	case o.SkipUnsupported && errors.Is(err, ErrUnsupported):
		return err.Error(), true
	}
	return "", false
}

// skip lists a variable left out, and warns about it.
func (r *Result) skip(key, reason string) {
	r.Skipped = append(r.Skipped, Skipped{Variable: key, Reason: reason})
	r.Warnings = append(r.Warnings, fmt.Sprintf("%s: left out of the references: %s", key, reason))
}

// reason says why a variable of the type is left out.
func (e unsupportedType) reason() string { return "no Zarr data type can hold " + e.what }
