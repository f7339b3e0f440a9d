package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/greensight/vzarr/engine"
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

// Error types of failure envelopes.
const (
	ErrTypeInvalidParams     = "invalid_params"
	ErrTypeNotFound          = "not_found"
	ErrTypeIllegalTransition = "illegal_transition"
	ErrTypeConflict          = "conflict"
	ErrTypeReleaseMismatch   = "release_mismatch"
	ErrTypeInvalidRefs       = "invalid_references"
	ErrTypeInvalidMetadata   = "invalid_metadata"
	ErrTypePermission        = "permission_denied"
	ErrTypeUnavailable       = "storage_unavailable"
	ErrTypeConfig            = "configuration_error"
	ErrTypeSourceNotAllowed  = "source_not_allowed"
	ErrTypeTimeout           = engine.ErrTypeTimeout // also a stage past engine.Options.StageDeadline
	ErrTypeWorkerLost        = engine.ErrTypeWorkerLost
	ErrTypeCanceled          = "canceled"
	ErrTypeInternal          = "internal_error"
	// ErrTypeCatalogUnavailable: the catalog database cannot be reached.
	ErrTypeCatalogUnavailable = "catalog_unavailable"
)

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

func (e *StageError) Error() string { return e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// ErrorType classifies an error for the envelope's error_type.
func ErrorType(err error) string {
	var se *StageError
	switch {
	case errors.As(err, &se):
		return se.Type
	case errors.Is(err, ErrInvalidParams):
		return ErrTypeInvalidParams
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTypeTimeout
	case errors.Is(err, context.Canceled):
		return ErrTypeCanceled
	}
	if t := sentinelType(err); t != "" {
		return t
	}
	return ErrTypeInternal
}
