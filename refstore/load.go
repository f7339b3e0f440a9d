package refstore

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

// MaxObject is the largest reference object (a JSON file, or one file of
// a Parquet set) Load reads.
const MaxObject = 1 << 30

// Store loads and saves reference sets. The zero value is ready to use:
// it opens URLs with an Opener configured from the environment and
// applies the default limits. A Store is safe for concurrent use.
type Store struct {
	// Opener opens and writes URLs; nil means blobio.NewOpenerFromEnv(),
	// made on each call.
	Opener *blobio.Opener
	// Limits bound what loaded references may make Load allocate (zero
	// fields: the defaults).
	Limits limits.Limits
	// JSON are the options of JSON files Save writes (nil: defaults).
	JSON *kerchunk.WriteOptions
	// Parquet are the options of Parquet sets Save writes (nil: defaults).
	Parquet *kerchunk.ParquetOptions
	// Heads, when set, keeps each JSON file Save writes to blob storage
	// (if it fits), and Load reads a JSON file from the head kept for its
	// URL (taking it) instead of requesting it: a process that writes
	// references and reads them back reads no storage for them (see
	// blobio.HeadCache).
	Heads *blobio.HeadCache
}

func (s *Store) opener() *blobio.Opener {
	if s == nil || s.Opener == nil {
		return blobio.NewOpenerFromEnv()
	}
	return s.Opener
}

// Load reads the references at url in either layout: a JSON file (kerchunk
// version 0 or 1) or a Parquet set (a folder or blob prefix holding
// .zmetadata). A url that names no object is tried as a Parquet set; when
// that has no .zmetadata either, the error is the first one (blobio's
// ErrNotFound).
func (s *Store) Load(ctx context.Context, url string) (*kerchunk.Refs, error) {
	o := s.opener()
	var lim limits.Limits
	if s != nil {
		lim = s.Limits
	}
	if strings.HasSuffix(url, "/") {
		return loadParquet(ctx, o, url, lim, nil)
	}
	var heads *blobio.HeadCache
	if s != nil {
		heads = s.Heads
	}
	data, err := readObject(ctx, o, heads, url)
	if err == nil {
		return parseJSON(url, data, lim)
	}
	if !errors.Is(err, blobio.ErrNotFound) && !isDirectory(err) {
		return nil, err
	}
	return loadParquet(ctx, o, url, lim, err)
}

// loadParquet reads the Parquet set at url. When it has no .zmetadata, the
// error is notObject if set (why url could not be read as a file).
func loadParquet(ctx context.Context, o *blobio.Opener, url string, lim limits.Limits, notObject error) (*kerchunk.Refs, error) {
	base := strings.TrimRight(url, "/") + "/"
	meta, err := readObject(ctx, o, nil, base+".zmetadata")
	if err != nil {
		if notObject != nil {
			return nil, notObject // neither a JSON file nor a Parquet set
		}
		return nil, err
	}
	refs, err := kerchunk.ReadParquetSetLimits(func(name string) ([]byte, error) {
		if name == ".zmetadata" {
			return meta, nil
		}
		return readObject(ctx, o, nil, base+name)
	}, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return refs, nil
}

// isDirectory reports the error of opening a local folder as an object.
func isDirectory(err error) bool {
	return strings.Contains(err.Error(), "is a directory")
}

// LoadObject reads the JSON references (kerchunk version 0 or 1) of an
// object already open, such as one whose first bytes a caller looked at:
// its reads reuse what the object has cached (a small reference file
// costs no request beyond its open). The object stays open.
func (s *Store) LoadObject(obj *blobio.Object) (*kerchunk.Refs, error) {
	var lim limits.Limits
	if s != nil {
		lim = s.Limits
	}
	data, err := readAll(obj)
	if err != nil {
		return nil, err
	}
	return parseJSON(obj.URL, data, lim)
}

// parseJSON reads the JSON references of the object at url.
func parseJSON(url string, data []byte, lim limits.Limits) (*kerchunk.Refs, error) {
	refs, err := kerchunk.ReadJSONLimits(bytes.NewReader(data), lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return refs, nil
}

// readObject reads a whole object of at most MaxObject bytes, from the
// head heads keeps of it when there is one.
func readObject(ctx context.Context, o *blobio.Opener, heads *blobio.HeadCache, url string) ([]byte, error) {
	obj, err := heads.Open(ctx, o, url)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return readAll(obj)
}

// readAll reads the whole of an open object of at most MaxObject bytes.
func readAll(obj *blobio.Object) ([]byte, error) {
	url := obj.URL
	if obj.Size() > MaxObject {
		return nil, fmt.Errorf("%w: %s is %d bytes, above the %d a reference object may have", kerchunk.ErrBadRefs, url, obj.Size(), int64(MaxObject))
	}
	buf := make([]byte, obj.Size())
	if _, err := obj.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return buf, nil
}
