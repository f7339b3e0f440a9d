package blobio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// DefaultPattern is the glob Scan uses when none is given.
const DefaultPattern = "*.nc"

// scanPageSize is the listing page size: Azure's maximum, so that 10,000
// blobs take two requests.
const scanPageSize = 5000

// ScanOptions selects what Scan lists.
type ScanOptions struct {
	// Pattern is a path.Match glob matched against the base name of each
	// object; "" means DefaultPattern ("*.nc").
	Pattern string
	// Recursive lists objects in "subdirectories" of the prefix too.
	Recursive bool
}

// FileInfo is one listed object.
type FileInfo struct {
	URL          string    `json:"url"`
	SizeBytes    int64     `json:"size_bytes"`
	LastModified time.Time `json:"last_modified,omitzero"`
}

// ScanResult is the result of Scan, shaped as Contract 2's "result".
//
// NCFiles lists the URLs alone, so that it can be handed on as a list of
// files; Files has the same objects in the same order with their sizes and
// modification times. Both are empty lists, never null, when nothing
// matches. URLs are in the style of the scanned URL (same scheme and
// account form; absolute paths for local files) and can be opened again.
type ScanResult struct {
	NCFiles        []string   `json:"nc_files"`
	Files          []FileInfo `json:"files"`
	FileCount      int        `json:"file_count"`
	TotalSizeBytes int64      `json:"total_size_bytes"`
}

// Scan lists the objects under the prefix rawURL names (a "directory": a
// trailing "/" is implied) whose base names match opts.Pattern, sorted by
// URL. A prefix with no match gives an empty result; a container, mem bucket
// or local directory that does not exist gives an error for which
// errors.Is(err, ErrNotFound) holds.
func (o *Opener) Scan(ctx context.Context, rawURL string, opts ScanOptions) (*ScanResult, error) {
	start := time.Now()
	pattern := opts.Pattern
	if pattern == "" {
		pattern = DefaultPattern
	}
	if _, err := path.Match(pattern, ""); err != nil || strings.Contains(pattern, "/") {
		return nil, &Error{Op: "scan", URL: rawURL, Kind: ErrInvalidArgument,
			Err: fmt.Errorf("bad pattern %q: a glob of base names, such as *.nc, is wanted", pattern)}
	}
	loc, err := o.Parse(rawURL)
	if err != nil {
		return nil, wrap(ctx, "scan", rawURL, err)
	}
	if loc.IsLocal() {
		fi, err := os.Stat(loc.Path())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &Error{Op: "scan", URL: rawURL, Kind: ErrNotFound, Err: err}
		case err != nil:
			return nil, wrap(ctx, "scan", rawURL, err)
		case !fi.IsDir():
			return nil, &Error{Op: "scan", URL: rawURL, Kind: ErrInvalidArgument, Err: fmt.Errorf("%s is a file, not a directory", loc.Path())}
		}
	}
	b, err := o.OpenLocation(ctx, loc)
	if err != nil {
		return nil, wrap(ctx, "scan", rawURL, err)
	}
	defer b.Close()

	prefix := loc.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	lo := &blob.ListOptions{Prefix: prefix}
	if !opts.Recursive {
		lo.Delimiter = "/"
	}
	res := &ScanResult{NCFiles: []string{}, Files: []FileInfo{}}
	var keys []*blob.ListObject
	pages := 0
	for token := blob.FirstPageToken; token != nil; {
		var objs []*blob.ListObject
		objs, token, err = b.ListPage(ctx, token, scanPageSize, lo)
		if err != nil {
			return nil, o.explain(loc, wrap(ctx, "scan", rawURL, err))
		}
		pages++
		for _, obj := range objs {
			if obj.IsDir || strings.HasSuffix(obj.Key, "/") {
				continue
			}
			if ok, _ := path.Match(pattern, path.Base(obj.Key)); ok {
				keys = append(keys, obj)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key })
	for _, obj := range keys {
		u := loc.WithKey(obj.Key).String()
		res.NCFiles = append(res.NCFiles, u)
		res.Files = append(res.Files, FileInfo{URL: u, SizeBytes: obj.Size, LastModified: obj.ModTime.UTC()})
		res.TotalSizeBytes += obj.Size
	}
	res.FileCount = len(res.Files)
	o.logger().DebugContext(ctx, "blobio: scan", "url", rawURL, "pattern", pattern, "recursive", opts.Recursive,
		"files", res.FileCount, "bytes", res.TotalSizeBytes, "pages", pages, "elapsed", time.Since(start))
	return res, nil
}
