package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/validate"
)

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error { return encodeJSON(w, v, true) }

// encodeJSON writes v as JSON, indented or on one line.
func encodeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// failure is the structured error every command prints on failure.
type failure struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
}

// fail prints the structured error for err and returns exit code 1.
func fail(stdout io.Writer, err error) int {
	_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: errorType(err)})
	return 1
}

// errorType classifies an error for machines reading the JSON: storage
// errors by blobio's kinds (not_found, permission_denied, unavailable,
// invalid_url, ...), file format errors by the readers' sentinels.
func errorType(err error) string {
	if errors.Is(err, limits.ErrExceeded) {
		return "limit_exceeded"
	}
	if t := blobio.ErrorType(err); t != "error" {
		return t
	}
	switch {
	case errors.Is(err, hdf5meta.ErrTruncated), errors.Is(err, netcdf3.ErrTruncated):
		return "truncated_file"
	case errors.Is(err, hdf5meta.ErrFormat):
		return "format_error"
	case errors.Is(err, hdf5meta.ErrUnsupported):
		return "unsupported_feature"
	case errors.Is(err, validate.ErrNotNetCDF):
		return "not_netcdf"
	case errors.Is(err, hdf5meta.ErrNotFound):
		return "not_found"
	case errors.As(err, new(usageError)):
		return "usage_error"
	}
	return "io_error"
}

// usageError reports bad command-line arguments.
type usageError string

func (e usageError) Error() string { return string(e) }

func usagef(format string, args ...any) error { return usageError(fmt.Sprintf(format, args...)) }
