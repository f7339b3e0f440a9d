package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/greensight/vzarr/pipeline"
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

// writeReportLine writes the envelope pipeline.OK(rep) on one line, as
// encodeJSON(w, pipeline.OK(rep), false) does, with the report written by
// validate.Report.WriteJSON: its chunk lists stream out entry by entry
// instead of being encoded by reflection into one buffer.
func writeReportLine(w io.Writer, rep *validate.Report) error {
	if _, err := io.WriteString(w, `{"success":true,"result":`); err != nil {
		return err
	}
	if err := rep.WriteJSON(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "}\n")
	return err
}

// fail prints the failure envelope of err and returns the exit status: 2
// for a usage error, else 1.
func fail(stdout io.Writer, err error) int {
	_ = writeJSON(stdout, failure(err))
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// failure is the failure envelope of err.
func failure(err error) pipeline.Envelope {
	return pipeline.Envelope{Success: false, Error: err.Error(), ErrorType: errorType(err)}
}

// errorType classifies an error with the pipeline's one table
// (pipeline.ErrorType); a usageError is usage_error.
func errorType(err error) string {
	if errors.As(err, new(usageError)) {
		return pipeline.ErrTypeUsage
	}
	return pipeline.ErrorType(err)
}

// usageError reports bad command-line arguments.
type usageError string

func (e usageError) Error() string { return string(e) }

func usagef(format string, args ...any) error { return usageError(fmt.Sprintf(format, args...)) }
