package refread

import (
	"context"
	"errors"
	"fmt"

	"github.com/greensight/vzarr/blobio"
)

// Fetcher reads the bytes a reference points at.
type Fetcher interface {
	// Fetch returns the length bytes at offset of the object at url, or
	// the whole object when length < 0.
	Fetch(ctx context.Context, url string, offset, length int64) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string, offset, length int64) ([]byte, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, url string, offset, length int64) ([]byte, error) {
	return f(ctx, url, offset, length)
}

// fetchError gives a fetch error refread's kind: a range outside its
// object (a *blobio.RangeError) is a bad reference, or an unsupported
// chunk when it is only too long.
func fetchError(err error) error {
	var re *blobio.RangeError
	switch {
	case !errors.As(err, &re):
		return err
	case re.TooLong():
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return fmt.Errorf("%w: %w", ErrBadRef, err)
}
