package refstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/greensight/vzarr/blobio"
)

// PublishPrefix replaces the objects under the blob prefix dst with the
// objects under the prefix staging (of the same container): it copies
// each staged object into place, server side (each copy atomic), the
// names in last after all others and in that order, then deletes the
// objects of dst the staged set lacks, then the staged objects. A reader
// of one of the last names finds the new one only once every other new
// object is in place; a failure leaves the staged objects for the caller
// to retry or remove. Blob storage has no rename: this is how a set of
// objects is replaced there (a Parquet set, with last ".zmetadata"; a run
// folder of vzarr run).
func PublishPrefix(ctx context.Context, o *blobio.Opener, staging, dst string, last ...string) error {
	sloc, err := o.Parse(staging)
	if err != nil {
		return err
	}
	dloc, err := o.Parse(dst)
	if err != nil {
		return err
	}
	if sloc.IsLocal() || dloc.IsLocal() || sloc.Scheme != dloc.Scheme || sloc.Container != dloc.Container || sloc.Account != dloc.Account {
		return fmt.Errorf("%w: publishing %s as %s: both must be blob prefixes of one container", blobio.ErrInvalidArgument, staging, dst)
	}
	stageKey, dstKey := strings.TrimRight(sloc.Key, "/")+"/", strings.TrimRight(dloc.Key, "/")+"/"
	if dstKey == "/" || stageKey == "/" || strings.HasPrefix(stageKey, dstKey) || strings.HasPrefix(dstKey, stageKey) {
		return fmt.Errorf("%w: publishing %s as %s: prefixes must be distinct and below the container", blobio.ErrInvalidArgument, staging, dst)
	}
	names, err := listNames(ctx, o, sloc.WithKey(stageKey).String(), stageKey)
	if err != nil {
		return err
	}
	rank := func(n string) int {
		if i := slices.Index(last, n); i >= 0 {
			return i + 1
		}
		return 0
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	b, err := o.OpenLocation(ctx, dloc)
	if err != nil {
		return err
	}
	defer b.Close()
	fresh := map[string]bool{}
	for _, n := range names {
		fresh[n] = true
		if err := b.Copy(ctx, dstKey+n, stageKey+n, nil); err != nil {
			return fmt.Errorf("publishing %s: copying %s: %w", dst, n, err)
		}
	}
	old, err := listNames(ctx, o, dloc.WithKey(dstKey).String(), dstKey)
	if err != nil {
		return err
	}
	for _, n := range old {
		if !fresh[n] {
			if err := b.Delete(ctx, dstKey+n); err != nil {
				return fmt.Errorf("publishing %s: deleting the stale %s: %w", dst, n, err)
			}
		}
	}
	for _, n := range names {
		if err := b.Delete(ctx, stageKey+n); err != nil {
			return fmt.Errorf("publishing %s: deleting the staged %s: %w", dst, n, err)
		}
	}
	return nil
}

// listNames lists the objects under the prefix url (key prefix) by name
// relative to it; none when it holds nothing.
func listNames(ctx context.Context, o *blobio.Opener, url, prefix string) ([]string, error) {
	res, err := o.Scan(ctx, url, blobio.ScanOptions{Pattern: "*", Recursive: true})
	if errors.Is(err, blobio.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(res.Files))
	for _, f := range res.Files {
		l, err := o.Parse(f.URL)
		if err != nil {
			return nil, err
		}
		names = append(names, strings.TrimPrefix(l.Key, prefix))
	}
	return names, nil
}
