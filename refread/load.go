package refread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
)

// MaxRefObject is the largest reference object (a JSON file, or one file
// of a Parquet set) LoadRefs reads.
const MaxRefObject = 1 << 30

// LoadRefs reads the references at url, local or in blob storage, in
// either layout vzarr writes: a JSON file (kerchunk version 0 or 1), or a
// Parquet set (a folder or blob prefix holding .zmetadata and
// VAR/refs.N.parq, fsspec's LazyReferenceMapper layout). It is the one
// reference loader of the commands and stages; lim bounds what the
// references may make it allocate (zero fields: the defaults).
//
// A url that names no object is tried as a Parquet set; when that has no
// .zmetadata either, the error is the first one (not found).
func LoadRefs(ctx context.Context, opener *blobio.Opener, url string, lim limits.Limits) (*kerchunk.Refs, error) {
	data, err := readObject(ctx, opener, url)
	if err == nil {
		refs, err := kerchunk.ReadJSONLimits(bytes.NewReader(data), lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		return refs, nil
	}
	if !errors.Is(err, blobio.ErrNotFound) && !isDirectory(err) {
		return nil, err
	}
	base := strings.TrimRight(url, "/") + "/"
	meta, perr := readObject(ctx, opener, base+".zmetadata")
	if perr != nil {
		return nil, err // neither a JSON file nor a Parquet set
	}
	refs, perr := kerchunk.ReadParquetSetLimits(func(name string) ([]byte, error) {
		if name == ".zmetadata" {
			return meta, nil
		}
		return readObject(ctx, opener, base+name)
	}, lim)
	if perr != nil {
		return nil, fmt.Errorf("%s: %w", url, perr)
	}
	return refs, nil
}

// isDirectory reports the error of opening a local folder as an object.
func isDirectory(err error) bool {
	return strings.Contains(err.Error(), "is a directory")
}

// readObject reads a whole object of at most MaxRefObject bytes.
func readObject(ctx context.Context, opener *blobio.Opener, url string) ([]byte, error) {
	obj, err := opener.OpenObject(ctx, url)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Size() > MaxRefObject {
		return nil, fmt.Errorf("%w: %s is %d bytes, above the %d a reference object may have", kerchunk.ErrBadRefs, url, obj.Size(), int64(MaxRefObject))
	}
	buf := make([]byte, obj.Size())
	if _, err := obj.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return buf, nil
}
