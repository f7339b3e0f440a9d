package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

// vzarr run --out DIR: DIR is the run folder. A DIR that holds another
// run's combined.json is refused unless --overwrite; with --overwrite the
// new set is written to a sibling staging folder, DIR.vzarr-staging-*, and
// swapped in only when the job has completed (swapOut), so a failed run
// leaves DIR as it was.

// errOutputExists refuses an --out that holds another run's result
// (error_type output_exists).
var errOutputExists = &pipeline.StageError{Type: pipeline.ErrTypeOutputExists, Err: errors.New("output exists")}

// outListing is what an output folder holds: the URLs of its objects.
type outListing struct {
	combined bool
	urls     []string
	// foreign are objects that are not part of a reference set (not
	// .json, nor a temporary file of an atomic write).
	foreign []string
}

// isSetMember reports whether a file name belongs to a run's set: a
// reference (.json) or the temporary sibling of one being written.
func isSetMember(name string) bool {
	return strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") && strings.Contains(name, ".json.tmp-")
}

// listOut lists the output folder at url (empty when it does not exist).
func listOut(ctx context.Context, o *blobio.Opener, url string) (*outListing, error) {
	loc, err := blobio.ParseURL(url)
	if err != nil {
		return nil, err
	}
	var urls []string
	if loc.IsLocal() {
		root := loc.Path()
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				urls = append(urls, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	} else {
		res, err := o.Scan(ctx, url, blobio.ScanOptions{Pattern: "*", Recursive: true})
		if err != nil {
			return nil, err
		}
		urls = res.NCFiles
	}
	l := &outListing{urls: urls}
	top := strings.TrimRight(url, "/") + "/" + pipeline.CombinedName
	for _, u := range urls {
		if u == top || loc.IsLocal() && u == filepath.Join(loc.Path(), pipeline.CombinedName) {
			l.combined = true
		}
		if !isSetMember(path.Base(filepath.ToSlash(u))) {
			l.foreign = append(l.foreign, u)
		}
	}
	return l, nil
}

// stagingURL is the sibling folder a replacing run writes to.
func stagingURL(out, suffix string) string {
	return strings.TrimRight(out, "/") + ".vzarr-staging-" + suffix
}

// swapOut replaces the set in out with the one in staging.
//
// Local folders: on Linux, renameat2(RENAME_EXCHANGE) swaps the two
// directories in one step — a reader opening out/combined.json gets the
// old file or the new one, and out always exists; elsewhere out is renamed
// aside and staging renamed into place, so for that instant a reader finds
// no out at all (never a mix). The old set is then deleted.
//
// Blob prefixes have no rename: refstore.PublishPrefix copies the new
// objects over (server side, each copy atomic; per-file references first,
// combined.json and stac-item.json last), then the old set's objects that the new set lacks
// are deleted, then the staging objects. A reader of combined.json — which
// names the source files, not the per-file references — sees the old or
// the new dataset whole; a reader listing the per-file references while
// the swap runs may see old and new ones side by side, and old ones only
// until the stale ones are deleted.
func swapOut(ctx context.Context, o *blobio.Opener, staging, out, suffix string) error {
	sloc, err := blobio.ParseURL(staging)
	if err != nil {
		return err
	}
	oloc, err := blobio.ParseURL(out)
	if err != nil {
		return err
	}
	if sloc.IsLocal() {
		return swapDirs(sloc.Path(), oloc.Path(), oloc.Path()+".vzarr-old-"+suffix)
	}
	return refstore.PublishPrefix(ctx, o, staging, out, pipeline.CombinedName, "stac-item.json")
}

// swapDirs puts the directory staging in place of out and deletes the old
// out; aside is a free name next to out.
func swapDirs(staging, out, aside string) error {
	if err := exchangeDirs(staging, out); err == nil {
		return os.RemoveAll(staging) // now the old set
	}
	if err := os.Rename(out, aside); err != nil {
		return fmt.Errorf("moving %s aside: %w", out, err)
	}
	if err := os.Rename(staging, out); err != nil {
		_ = os.Rename(aside, out)
		return fmt.Errorf("moving %s into place: %w", staging, err)
	}
	return os.RemoveAll(aside)
}

// removeStaging deletes what a failed run left in its staging folder
// (the failure cleanup has removed the run's references already).
func removeStaging(ctx context.Context, o *blobio.Opener, staging string) {
	loc, err := blobio.ParseURL(staging)
	if err != nil {
		return
	}
	if loc.IsLocal() {
		_ = os.RemoveAll(loc.Path())
		return
	}
	l, err := listOut(ctx, o, staging)
	if err != nil {
		return
	}
	b, _, err := o.Open(ctx, staging)
	if err != nil {
		return
	}
	defer b.Close()
	for _, u := range l.urls {
		if k, err := blobio.ParseURL(u); err == nil {
			_ = b.Delete(ctx, k.Key)
		}
	}
}
