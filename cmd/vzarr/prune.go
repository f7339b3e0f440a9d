package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/pipeline"
)

func init() {
	register(command{name: "prune",
		synopsis: "prune [flags] --catalog DSN --dataset-id ID --resource-id ID [--keep-last N] [--older-than D]",
		summary:  "delete the references of old Releases of one asset",
		help: `Retention of one asset's Releases. Every run writes its own folder
(REFS_URL/<dataset_id>/<resource_id>/<release_id>/) and nothing removes it
until prune. prune deletes the references of the COMPLETED Releases that are
REJECTED (the catalog's revoked state) or superseded — a newer COMPLETED, not
rejected Release exists; an APPROVED (published) Release is superseded only
by a newer APPROVED one — except the --keep-last newest COMPLETED Releases
(at least 1: the newest is never touched), and, with --older-than, those
completed more recently than that. It deletes exactly the objects each run
recorded (never one another live Release records), then marks the Release
pruned (pruned_at set, blob_path cleared). PENDING, PROCESSING and FAILED
Releases are left alone. Running it again finishes an interrupted prune.

The result is {"dataset_id", "resource_id", "pruned": [{"release_id",
"version", "reason", "blob_path", "objects"}...], "kept": [release_id...]}.`,
		example: `PGPASSFILE=~/.pgpass vzarr prune --catalog postgres://vzarr@db/vzarr --dataset-id era5 --resource-id daily --keep-last 2 --older-than 720h
vzarr prune --dry-run --dataset-id era5 --resource-id daily`,
		run: runPrune})
}

func runPrune(args []string, stdout, stderr io.Writer) int {
	f := newFlags("prune", stderr)
	fs := f.FlagSet
	var opts pipeline.PruneOptions
	dsn := fs.String("catalog", "", "PostgreSQL DSN of the catalog, without a password (PGPASSWORD or PGPASSFILE hold it; default VZARR_CATALOG_DSN)")
	schema := fs.String("catalog-schema", catalog.DefaultSchema, "schema of the catalog tables")
	fs.StringVar(&opts.DatasetID, "dataset-id", "", "dataset id (required)")
	fs.StringVar(&opts.ResourceID, "resource-id", "", "resource id (required)")
	fs.IntVar(&opts.KeepLast, "keep-last", 1, "keep the N newest COMPLETED Releases (at least 1)")
	fs.DurationVar(&opts.OlderThan, "older-than", 0, "prune only Releases completed longer ago than this (e.g. 720h)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "list what would be pruned, change nothing")
	help, err := f.parse(args)
	if help {
		return 0
	}
	if err == nil {
		switch {
		case fs.NArg() != 0:
			err = usagef("prune takes no arguments, got %d", fs.NArg())
		case catalog.DSNHasPassword(*dsn):
			err = usagef("--catalog holds a password, which the command line shows to every user: give it in PGPASSWORD, a PGPASSFILE or VZARR_CATALOG_DSN")
		case *dsn == "" && os.Getenv("VZARR_CATALOG_DSN") == "":
			err = usagef("prune needs --catalog (or VZARR_CATALOG_DSN)")
		case opts.DatasetID == "" || opts.ResourceID == "":
			err = usagef("prune needs --dataset-id and --resource-id")
		case opts.KeepLast < 1:
			err = usagef("--keep-last must be at least 1, not %d", opts.KeepLast)
		case opts.OlderThan < 0:
			err = usagef("--older-than must not be negative")
		}
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := f.logger()
	if *dsn == "" {
		*dsn = os.Getenv("VZARR_CATALOG_DSN")
	}
	pg, err := catalog.OpenPostgres(ctx, *dsn, catalog.PostgresOptions{Schema: *schema, Logger: logger})
	if err != nil {
		return fail(stdout, err)
	}
	defer pg.Close()
	if _, err := pg.Migrate(ctx); err != nil {
		return fail(stdout, err)
	}
	res, err := pipeline.Prune(ctx, &pipeline.Deps{Store: pg, Opener: f.opener(), Logger: logger}, opts)
	if err != nil {
		env := failure(err)
		if res != nil {
			env.Result = res // what was pruned before the failure
		}
		_ = writeJSON(stdout, env)
		return 1
	}
	return success(stdout, res)
}
