package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
)

func init() {
	register(command{name: "verify",
		synopsis: "verify [flags] [--source SRC] [--sample N] REF",
		summary:  "read chunks through a reference set (JSON or Parquet) and compare them with the source",
		help: `Loads the reference set REF (a JSON file or Parquet set, local or a blob
URL), reads sampled chunks of every array through it and compares them with
the same chunks read from the source file. The result is {"ref_url",
"nc_url", "ok", ...the report}; the exit status is 1 when a chunk differs.`,
		example: `vzarr verify refs/tas_2020.json
vzarr verify --sample 0 --source data/tas_2020.nc refs/tas_2020.parq`,
		run: runVerify})
}

type verifyResult struct {
	RefURL string `json:"ref_url"`
	NCURL  string `json:"nc_url"`
	OK     bool   `json:"ok"`
	*refread.VerifyReport
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	f := newFlags("verify", stderr)
	source := f.String("source", "", "the source file (default: the one URL the references name)")
	sample := f.Int("sample", 8, "chunks checked per array: first, last and evenly spaced between (0: all)")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	store := &refstore.Store{Limits: *lim}
	if err == nil && f.NArg() != 1 {
		err = usagef("verify wants one reference set REF, got %d arguments", f.NArg())
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opener := f.opener()
	store.Opener = opener
	refURL := absURL(f.Arg(0))
	refs, err := store.Load(ctx, refURL)
	if err != nil {
		return fail(stdout, err)
	}
	src := *source
	if src == "" {
		urls := refs.URLs()
		if len(urls) != 1 {
			return fail(stdout, usagef("the references name %d files; say which is the source with --source", len(urls)))
		}
		src = urls[0]
	}
	src = absURL(src)
	obj, err := opener.OpenObject(ctx, src, blobio.MetadataReaderOptions()...)
	if err != nil {
		return fail(stdout, err)
	}
	defer obj.Close()
	fetch := blobio.NewBlobFetcher(opener, 0)
	defer fetch.Close()
	rep, err := refread.Verify(ctx, refs, obj.Reader, obj.Size(), refread.VerifyOptions{Sample: *sample, Fetcher: fetch})
	if err != nil {
		return fail(stdout, err)
	}
	code := success(stdout, &verifyResult{RefURL: refURL, NCURL: src, OK: rep.OK(), VerifyReport: rep})
	if code == 0 && !rep.OK() {
		return 1
	}
	return code
}
