package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/stac"
)

func init() {
	register(command{name: "stac",
		synopsis: "stac [flags] --dataset-id ID [--resource-id ID] [-o ITEM] REF",
		summary:  "the STAC item of a reference set (JSON or Parquet)",
		help: `Describes the reference set REF (a JSON file or Parquet set, local or a
blob URL; also --combined REF) as a STAC item: extent, time range, variables
and a references asset. With -o ITEM (a local path or blob URL) the item is
written there, atomically, and the result is {"item_id", "output",
"warnings"}; without, the result holds the item as "item".`,
		example: `vzarr stac --dataset-id era5 --resource-id daily-2020 --collection-id era5 -o item.json refs/combined.json
vzarr stac --dataset-id era5 --href-style https -o abfs://silver/stac/era5.json abfs://silver/refs/era5.parq`,
		run: runStac})
}

// stacResult is the result of vzarr stac.
type stacResult struct {
	ItemID   string     `json:"item_id"`
	Output   string     `json:"output,omitempty"`
	Item     *stac.Item `json:"item,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
}

func runStac(args []string, stdout, stderr io.Writer) int {
	f := newFlags("stac", stderr)
	var combined, out string
	f.StringVar(&combined, "combined", "", "the reference set (instead of the REF argument)")
	f.output(&out, "write the item here, a local path or blob URL (default: in the result)")
	var opts stac.Options
	f.StringVar(&opts.DatasetID, "dataset-id", "", "dataset id (required unless --id is given)")
	f.StringVar(&opts.ResourceID, "resource-id", "", "resource id; the item id is DATASET-RESOURCE")
	f.StringVar(&opts.ID, "id", "", "item id (default: DATASET-RESOURCE)")
	f.StringVar(&opts.Collection, "collection-id", "", "STAC collection id (adds a collection link)")
	f.alias("collection", "collection-id")
	f.StringVar(&opts.CollectionHref, "collection-href", "", "href of the collection link (default ../collection.json)")
	href := f.String("href", "", "URL the item gives for the reference set (default: REF)")
	style := f.String("href-style", "abfs", "Azure hrefs as abfs (abfs://CONTAINER/PATH) or https (https://ACCOUNT.blob.core.windows.net/...)")
	f.StringVar(&opts.Account, "account", "", "storage account (default: the URL's, else AZURE_STORAGE_ACCOUNT_NAME)")
	f.StringVar(&opts.RemoteProtocol, "remote-protocol", "", "fsspec protocol of the chunk URLs (default: from the references)")
	titiler := f.String("titiler-url", "", "base URL of a TiTiler-xarray service (adds a tiles link)")
	titilerVar := f.String("titiler-variable", "", "variable of the tiles link (default: the first with x and y)")
	created := f.String("created", "", "the item's created time, RFC 3339 (default: now)")
	maxValues := f.Int("max-values", stac.DefaultMaxValues, "list the coordinate values of dimensions with at most this many")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	store := &refstore.Store{Limits: *lim}
	if err == nil {
		if combined == "" && f.NArg() == 1 {
			combined = f.Arg(0)
		}
		switch {
		case f.NArg() > 1 || f.NArg() == 1 && combined != f.Arg(0):
			err = usagef("stac takes one reference set, got %d", f.NArg())
		case combined == "":
			err = usagef("stac needs a reference set REF (or --combined REF)")
		case opts.DatasetID == "" && opts.ID == "":
			err = usagef("--dataset-id (or --id) is required")
		case *style != string(stac.HrefABFS) && *style != string(stac.HrefHTTPS):
			err = usagef("--href-style must be abfs or https, not %q", *style)
		}
	}
	if err == nil && *created != "" {
		t, perr := time.Parse(time.RFC3339, *created)
		if perr != nil {
			err = usagef("--created: %v", perr)
		}
		opts.Created = t
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	opts.HrefStyle = stac.HrefStyle(*style)
	if *titiler != "" {
		opts.TiTiler = &stac.TiTiler{BaseURL: *titiler, Variable: *titilerVar}
	}
	opener := f.opener()
	store.Opener = opener
	if opts.Account == "" {
		opts.Account = opener.AccountName
	}
	opts.RefURL = *href
	if opts.RefURL == "" {
		opts.RefURL = combined
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	refs, err := store.Load(ctx, combined)
	if err != nil {
		return fail(stdout, err)
	}
	fetch := blobio.NewBlobFetcher(opener, 0)
	defer fetch.Close()
	info, err := stac.FromReferences(ctx, refs, stac.RefOptions{ReadRange: fetch.Fetch, MaxValues: *maxValues, Limits: store.Limits})
	if err != nil {
		return fail(stdout, err)
	}
	for _, w := range info.Warnings {
		fmt.Fprintln(stderr, "vzarr stac: warning:", w)
	}
	item, err := stac.Build(info, opts)
	if err != nil {
		return fail(stdout, err)
	}
	res := &stacResult{ItemID: item.ID, Warnings: info.Warnings}
	if out == "" || out == "-" {
		res.Item = item
		return success(stdout, res)
	}
	res.Output = out
	if err := opener.WriteAtomic(ctx, out, func(w io.Writer) error { return writeJSON(w, item) }); err != nil {
		return fail(stdout, fmt.Errorf("writing %s: %w", out, err))
	}
	return success(stdout, res)
}
