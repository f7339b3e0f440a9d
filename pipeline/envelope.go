package pipeline

import (
	"errors"
	"fmt"
)

// Envelope is what every stage returns, as JSON:
// {"success": true, "result": ...} or
// {"success": false, "error": "...", "error_type": "..."}.
type Envelope struct {
	Success   bool   `json:"success"`
	Result    any    `json:"result,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorType string `json:"error_type,omitempty"`
}

// OK returns a successful envelope.
func OK(result any) Envelope { return Envelope{Success: true, Result: result} }

// Fail returns the failure envelope of err, classified by ErrorType.
func Fail(err error) Envelope {
	return Envelope{Success: false, Error: err.Error(), ErrorType: ErrorType(err)}
}

// ErrInvalidParams reports stage parameters that break the contract.
var ErrInvalidParams = errors.New("invalid parameters")

func invalidParams(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
}

// StageError is an error with an explicit error_type.
type StageError struct {
	Type string
	Err  error
}

// Error returns the message of Err.
// Error is the wrapped error's message.
func (e *StageError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
// Unwrap returns the wrapped error.
func (e *StageError) Unwrap() error { return e.Err }
