package refstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
)

// Format is the layout of a saved reference set.
type Format string

// The formats Save writes.
const (
	// Auto takes the format from the URL (see FormatOf).
	Auto Format = ""
	// JSON is one kerchunk reference file (version 1).
	JSON Format = "json"
	// Parquet is fsspec's LazyReferenceMapper folder: .zmetadata and
	// VAR/refs.N.parq.
	Parquet Format = "parquet"
	// Icechunk is an Icechunk repository (a local directory or a blob prefix) with one
	// commit of the references as virtual chunks; see Store.SaveIcechunk.
	Icechunk Format = "icechunk"
)

// ErrFormat reports a format name that is not one of the Formats.
var ErrFormat = errors.New("unknown reference format")

// ParseFormat returns the Format a command-line or JSON value names:
// "json", "parquet" (or "parq"), or "" and "auto" for Auto.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "json":
		return JSON, nil
	case "parquet", "parq":
		return Parquet, nil
	case "icechunk":
		return Icechunk, nil
	}
	return Auto, fmt.Errorf("%w %q: json, parquet or icechunk", ErrFormat, s)
}

// FormatOf is the format a URL's name implies: Parquet for a name ending
// in .parq or .parquet (with or without a trailing slash), else JSON.
func FormatOf(url string) Format {
	u := strings.TrimRight(url, "/")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	switch strings.ToLower(path.Ext(u)) {
	case ".parq", ".parquet":
		return Parquet
	}
	return JSON
}

// Save writes refs to url in format f (Auto: FormatOf(url)), atomically,
// replacing what url held, and returns the number of bytes written.
func (s *Store) Save(ctx context.Context, url string, refs *kerchunk.Refs, f Format) (int64, error) {
	if f == Auto {
		f = FormatOf(url)
	}
	switch f {
	case JSON:
		return s.saveJSON(ctx, url, refs)
	case Parquet:
		return s.saveParquet(ctx, url, refs)
	case Icechunk:
		c, err := s.SaveIcechunk(ctx, url, refs, "")
		if err != nil {
			return 0, err
		}
		return c.Bytes, nil
	}
	return 0, fmt.Errorf("%w %q", ErrFormat, string(f))
}

func (s *Store) saveJSON(ctx context.Context, url string, refs *kerchunk.Refs) (int64, error) {
	var opts *kerchunk.WriteOptions
	var heads *blobio.HeadCache
	if s != nil {
		opts, heads = s.JSON, s.Heads
	}
	o := s.opener()
	var n int64
	// With Heads, a copy of the file is kept while it fits the cache's room.
	room := heads.Room()
	var cw *countingWriter
	err := o.WriteAtomic(ctx, url, func(w io.Writer) error {
		cw = &countingWriter{w: w, keep: room}
		err := kerchunk.WriteJSON(cw, refs, opts)
		n = cw.n
		return err
	})
	switch {
	case err != nil:
		heads.Drop(url) // what the URL holds now is unknown
	case cw.keep > 0:
		heads.KeepWritten(o, url, cw.kept) // replaces an older head of url
	}
	return n, err
}

// countingWriter counts the bytes written through it and, while they are
// at most keep bytes, keeps a copy of them (keep drops to 0 past it).
type countingWriter struct {
	w    io.Writer
	n    int64
	keep int64
	kept []byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.keep > 0 {
		if c.n <= c.keep {
			c.kept = append(c.kept, p[:n]...)
		} else {
			c.kept, c.keep = nil, 0
		}
	}
	return n, err
}

func (s *Store) saveParquet(ctx context.Context, url string, refs *kerchunk.Refs) (int64, error) {
	o := s.opener()
	loc, err := o.Parse(url)
	if err != nil {
		return 0, err
	}
	var opts *kerchunk.ParquetOptions
	if s != nil {
		opts = s.Parquet
	}
	if loc.IsLocal() {
		return saveParquetLocal(loc.Path(), refs, opts)
	}
	return saveParquetBlob(ctx, o, loc, refs, opts)
}

// saveParquetLocal builds the set in a temporary sibling folder and
// renames it into place; an older set is moved aside first and deleted
// once the new one is in place (put back if the rename fails).
func saveParquetLocal(dst string, refs *kerchunk.Refs, opts *kerchunk.ParquetOptions) (int64, error) {
	dst = filepath.Clean(dst)
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	var total int64
	err = kerchunk.WriteParquetSet(refs, func(name string, data []byte) error {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		total += int64(len(data))
		return os.WriteFile(p, data, 0o644)
	}, opts)
	if err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, err
	}
	old := ""
	if _, err := os.Stat(dst); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dst, old); err != nil {
			return 0, err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if old != "" {
			_ = os.Rename(old, dst)
		}
		return 0, err
	}
	done = true
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return total, nil
}

// saveParquetBlob uploads the set under a staging prefix next to loc
// (DST.vzarr-staging-RANDOM/), each file in one request, and only when all
// are there publishes it with PublishPrefix, .zmetadata last (a reader
// that finds the new .zmetadata finds the new records). A set that fails
// to be written or published leaves no staged objects.
func saveParquetBlob(ctx context.Context, o *blobio.Opener, loc *blobio.Location, refs *kerchunk.Refs, opts *kerchunk.ParquetOptions) (int64, error) {
	dstKey := strings.TrimRight(loc.Key, "/")
	if dstKey == "" {
		return 0, fmt.Errorf("%w: a Parquet set needs a prefix below the container, not %s", blobio.ErrInvalidArgument, loc)
	}
	b, err := o.OpenLocation(ctx, loc)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	stageKey := dstKey + ".vzarr-staging-" + hex.EncodeToString(suffix[:]) + "/"
	staging := loc.WithKey(stageKey).String()
	var names []string
	var total int64
	published := false
	defer func() {
		if !published {
			for _, n := range names {
				_ = b.Delete(context.WithoutCancel(ctx), stageKey+n)
			}
		}
	}()
	err = kerchunk.WriteParquetSet(refs, func(name string, data []byte) error {
		names = append(names, name)
		total += int64(len(data))
		return o.WriteAtomic(ctx, staging+name, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
	}, opts)
	if err != nil {
		return 0, err
	}
	if err := PublishPrefix(ctx, o, staging, loc.WithKey(dstKey+"/").String(), ".zmetadata"); err != nil {
		return 0, err
	}
	published = true
	return total, nil
}
