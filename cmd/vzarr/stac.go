package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/stac"
)

func init() {
	register(command{name: "stac",
		synopsis: "stac --combined REF.json --dataset-id ID [--resource-id ID] [-o item.json]   STAC item of a reference file",
		run:      runStac})
}

// stacSummary is what "vzarr stac -o FILE" prints.
type stacSummary struct {
	Success bool `json:"success"`
	Result  struct {
		ItemID   string   `json:"item_id"`
		Output   string   `json:"output"`
		Warnings []string `json:"warnings,omitempty"`
	} `json:"result"`
}

func runStac(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stac", flag.ContinueOnError)
	fs.SetOutput(stderr)
	combined := fs.String("combined", "", "the kerchunk reference file (JSON; a local path or a blob URL)")
	out := fs.String("o", "", "write the item here (default: standard output)")
	var opts stac.Options
	fs.StringVar(&opts.DatasetID, "dataset-id", "", "dataset id (required unless --id is given)")
	fs.StringVar(&opts.ResourceID, "resource-id", "", "resource id; the item id is DATASET-RESOURCE")
	fs.StringVar(&opts.ID, "id", "", "item id (default: DATASET-RESOURCE)")
	fs.StringVar(&opts.Collection, "collection", "", "collection id (adds a collection link)")
	fs.StringVar(&opts.CollectionHref, "collection-href", "", "href of the collection link (default ../collection.json)")
	href := fs.String("href", "", "URL the item gives for the reference file (default: --combined)")
	style := fs.String("href-style", "abfs", "Azure hrefs as abfs (abfs://CONTAINER/PATH) or https (https://ACCOUNT.blob.core.windows.net/...)")
	fs.StringVar(&opts.Account, "account", "", "storage account (default: the URL's, else AZURE_STORAGE_ACCOUNT_NAME)")
	fs.StringVar(&opts.RemoteProtocol, "remote-protocol", "", "fsspec protocol of the chunk URLs (default: from the references)")
	titiler := fs.String("titiler-url", "", "base URL of a TiTiler-xarray service (adds a tiles link)")
	titilerVar := fs.String("titiler-variable", "", "variable of the tiles link (default: the first with x and y)")
	created := fs.String("created", "", "the item's created time, RFC 3339 (default: now)")
	maxValues := fs.Int("max-values", stac.DefaultMaxValues, "list the coordinate values of dimensions with at most this many")
	storageFlags(fs)
	limitFlags := addLimitFlags(fs)
	if err := fs.Parse(interleaved(fs, args)); err != nil {
		return 2
	}
	lim, err := limitFlags.limits()
	if err != nil {
		return stacFail(stdout, err)
	}
	if *combined == "" && fs.NArg() == 1 {
		*combined = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	switch {
	case *combined == "":
		return stacFail(stdout, usagef("--combined is required"))
	case opts.DatasetID == "" && opts.ID == "":
		return stacFail(stdout, usagef("--dataset-id (or --id) is required"))
	case *style != string(stac.HrefABFS) && *style != string(stac.HrefHTTPS):
		return stacFail(stdout, usagef("--href-style must be abfs or https, not %q", *style))
	}
	opts.HrefStyle = stac.HrefStyle(*style)
	if *created != "" {
		t, err := time.Parse(time.RFC3339, *created)
		if err != nil {
			return stacFail(stdout, usagef("--created: %v", err))
		}
		opts.Created = t
	}
	if *titiler != "" {
		opts.TiTiler = &stac.TiTiler{BaseURL: *titiler, Variable: *titilerVar}
	}
	opener := newOpener()
	if opts.Account == "" {
		opts.Account = opener.AccountName
	}
	opts.RefURL = *href
	if opts.RefURL == "" {
		opts.RefURL = *combined
	}

	ctx := context.Background()
	refs, err := pipeline.LoadRefs(ctx, opener, *combined)
	if err != nil {
		return stacFail(stdout, err)
	}
	fetch := blobio.NewBlobFetcher(opener, 0)
	defer fetch.Close()
	info, err := stac.FromReferences(ctx, refs, stac.RefOptions{ReadRange: fetch.Fetch, MaxValues: *maxValues, Limits: lim})
	if err != nil {
		return stacFail(stdout, err)
	}
	for _, w := range info.Warnings {
		fmt.Fprintln(stderr, "vzarr stac: warning:", w)
	}
	item, err := stac.Build(info, opts)
	if err != nil {
		return stacFail(stdout, err)
	}
	if *out == "" || *out == "-" {
		if err := writeJSON(stdout, item); err != nil {
			return stacFail(stdout, err)
		}
		return 0
	}
	var b strings.Builder
	if err := writeJSON(&b, item); err != nil {
		return stacFail(stdout, err)
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		return stacFail(stdout, err)
	}
	var sum stacSummary
	sum.Success = true
	sum.Result.ItemID, sum.Result.Output, sum.Result.Warnings = item.ID, *out, info.Warnings
	if err := writeJSON(stdout, sum); err != nil {
		return 1
	}
	return 0
}

// stacFail prints the structured failure, with the pipeline's error types
// for reference and metadata errors.
func stacFail(stdout io.Writer, err error) int {
	typ := "usage_error"
	if !errors.As(err, new(usageError)) {
		typ = pipeline.ErrorType(err)
		if typ == pipeline.ErrTypeInternal {
			typ = errorType(err)
		}
	}
	_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: typ})
	if typ == "usage_error" {
		return 2
	}
	return 1
}
