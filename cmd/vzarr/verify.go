package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
)

func init() {
	register(command{name: "verify",
		synopsis: "verify [flags] [--source SRC] [--sample N] [--branch B|--tag T|--snapshot ID] REF",
		summary:  "read chunks through a reference set (JSON or Parquet) or an Icechunk repository and compare them with the source",
		help: `Loads the reference set REF (a JSON file or Parquet set, local or a blob
URL), or the Icechunk repository REF (main, or the version --branch, --tag
or --snapshot names; virtual chunks resolved to their sources), reads
sampled chunks of every array through it and compares them with the same
chunks read from the source file. The result is {"ref_url", "nc_url",
"ok", ...the report}, with "snapshot_id" for a repository; the exit status
is 1 when a chunk differs.`,
		example: `vzarr verify refs/tas_2020.json
vzarr verify --sample 0 --source data/tas_2020.nc refs/tas_2020.parq
vzarr verify --tag v1 repos/tas_2020`,
		run: runVerify})
}

type verifyResult struct {
	RefURL string `json:"ref_url"`
	NCURL  string `json:"nc_url"`
	OK     bool   `json:"ok"`
	// SnapshotID is the Icechunk snapshot read (REF a repository).
	SnapshotID string `json:"snapshot_id,omitempty"`
	*refread.VerifyReport
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	f := newFlags("verify", stderr)
	source := f.String("source", "", "the source file (default: the one URL the references name)")
	sample := f.Int("sample", 8, "chunks checked per array: first, last and evenly spaced between (0: all)")
	var version refstore.IcechunkVersion
	f.StringVar(&version.Branch, "branch", "", "with an Icechunk repository: the branch read (default main)")
	f.StringVar(&version.Tag, "tag", "", "with an Icechunk repository: the tag read")
	f.StringVar(&version.Snapshot, "snapshot", "", "with an Icechunk repository: the snapshot id read")
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
	var refs *kerchunk.Refs
	var snapshot string
	switch {
	case store.IsIcechunk(ctx, refURL):
		var id icechunk.ObjectID
		refs, id, err = store.LoadIcechunk(ctx, refURL, version)
		snapshot = id.String()
	case version != (refstore.IcechunkVersion{}):
		err = usagef("--branch, --tag and --snapshot need an Icechunk repository; %s is not one", refURL)
	default:
		refs, err = store.Load(ctx, refURL)
	}
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
	obj, err := opener.OpenObject(ctx, src, blobio.MetadataReaderOptions(0)...)
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
	code := success(stdout, &verifyResult{RefURL: refURL, NCURL: src, OK: rep.OK(), SnapshotID: snapshot, VerifyReport: rep})
	if code == 0 && !rep.OK() {
		return 1
	}
	return code
}
