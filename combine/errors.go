package combine

import (
	"errors"
	"fmt"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
)

// ErrIncompatible reports inputs that cannot be concatenated into one
// dataset without changing what some of their values mean. Every such
// error is an *IncompatibleError naming the file, the variable and why.
var ErrIncompatible = errors.New("combine: incompatible inputs")

// ErrInvalid reports a bad request: no inputs, no concat dimension, an
// unknown variable in Options.Identical.
var ErrInvalid = errors.New("combine: invalid request")

// IncompatibleError says which input and variable break the combination,
// and why. errors.Is(err, ErrIncompatible) holds for it.
type IncompatibleError struct {
	// File is the name of the input (Source.Name) that breaks the rule.
	File string
	// Variable is the Zarr path of the variable ("" for the whole file).
	Variable string
	// Reason explains the problem and, where there is one, the remedy.
	Reason string
}

// Error names the file, the variable and what differs.
func (e *IncompatibleError) Error() string {
	if e.Variable == "" {
		return fmt.Sprintf("combine: %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("combine: %s: variable %q: %s", e.File, e.Variable, e.Reason)
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

func incompatible(file, variable, format string, args ...any) error {
	return &IncompatibleError{File: file, Variable: variable, Reason: fmt.Sprintf(format, args...)}
}

// store returns a refread.Store over refs reading with the combiner's
// fetcher and limits.
func (c *combiner) store(refs *kerchunk.Refs) *refread.Store {
	s := refread.NewStore(refs, c.fetch)
	s.Limits = c.opts.Limits
	return s
}

// readErr is the error of reading the values of variable in file: a
// limit error as it is (located), others as incompatible inputs.
func readErr(file, variable, what string, err error) error {
	if errors.Is(err, limits.ErrExceeded) {
		return limits.Locate(err, file, variable)
	}
	return incompatible(file, variable, "%s%v", what, err)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
