package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
)

func init() {
	register(command{name: "verify",
		synopsis: "verify REF [--source SRC] [--sample N]   read chunks through references (JSON or Parquet) and compare with the source",
		run:      runVerify})
}

type verifyResult struct {
	RefURL string `json:"ref_url"`
	NCURL  string `json:"nc_url"`
	OK     bool   `json:"ok"`
	*refread.VerifyReport
}

type verifySuccess struct {
	Success bool          `json:"success"`
	Result  *verifyResult `json:"result"`
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "the source file (default: the one URL the references name)")
	sample := fs.Int("sample", 8, "chunks checked per array: first, last and evenly spaced between (0: all)")
	storageFlags(fs)
	if err := fs.Parse(interleaved(fs, args)); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx := context.Background()
	opener := newOpener()
	refURL := fs.Arg(0)
	if l := localURL(refURL); l != "" {
		refURL = l
	}
	refs, err := refread.LoadRefs(ctx, opener, refURL, limits.Limits{})
	if err != nil {
		return failRef(stdout, err)
	}
	src := *source
	if src == "" {
		urls := refs.URLs()
		if len(urls) != 1 {
			return fail(stdout, usagef("the references name %d files; say which is the source with --source", len(urls)))
		}
		src = urls[0]
	}
	if l := localURL(src); l != "" {
		src = l
	}
	f := &fetcher{opener: opener, objs: map[string]*blobio.Object{}}
	defer f.close()
	obj, err := f.open(ctx, src)
	if err != nil {
		return failRef(stdout, err)
	}
	rep, err := refread.Verify(ctx, refs, obj.Reader, obj.Size(), refread.VerifyOptions{Sample: *sample, Fetcher: refread.FetcherFunc(f.fetch)})
	if err != nil {
		return failRef(stdout, err)
	}
	res := &verifyResult{RefURL: refURL, NCURL: src, OK: rep.OK(), VerifyReport: rep}
	if err := writeJSON(stdout, verifySuccess{Success: true, Result: res}); err != nil {
		return failRef(stdout, err)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// fetcher reads byte ranges of the objects references name.
type fetcher struct {
	opener *blobio.Opener
	mu     sync.Mutex
	objs   map[string]*blobio.Object
}

func (f *fetcher) open(ctx context.Context, url string) (*blobio.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.objs[url]; ok {
		return o, nil
	}
	o, err := f.opener.OpenObject(ctx, refToBlobURL(url), hdf5meta.DefaultReaderOptions()...)
	if err != nil {
		return nil, err
	}
	f.objs[url] = o
	return o, nil
}

func (f *fetcher) fetch(ctx context.Context, url string, off, n int64) ([]byte, error) {
	o, err := f.open(ctx, url)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = o.Size() - off
	}
	if off < 0 || off+n > o.Size() {
		return nil, fmt.Errorf("range [%d, %d) past the end of %s (%d bytes)", off, off+n, url, o.Size())
	}
	b := make([]byte, n)
	if _, err := o.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

func (f *fetcher) close() {
	for _, o := range f.objs {
		_ = o.Close()
	}
}

// refToBlobURL turns a chunk URL as fsspec reads it (an absolute path,
// file://, abfs://...) into one blobio opens (it takes them all).
func refToBlobURL(u string) string { return u }
