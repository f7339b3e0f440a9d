package zarr

import (
	"errors"
	"fmt"
)

// Errors, for errors.Is.
var (
	// ErrInvalid reports metadata that is not valid Zarr: malformed JSON,
	// a missing or contradictory member, a fill value that does not fit
	// its data type.
	ErrInvalid = errors.New("zarr: invalid metadata")
	// ErrUnsupported reports valid metadata this package does not model:
	// an unknown data type, codec or chunk grid.
	ErrUnsupported = errors.New("zarr: unsupported")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}
