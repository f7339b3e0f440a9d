package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/greensight/vzarr/blobio"
)

func init() {
	register(command{name: "scan",
		synopsis: "scan [flags] [--pattern GLOB] [--recursive] URL",
		summary:  "list the files under a folder or blob prefix (Contract 2)",
		help: `Lists the objects under URL (a directory or blob prefix) whose base names
match GLOB, sorted. The result is Contract 2's: {"nc_files": [URL...],
"files": [{"url", "size_bytes", "last_modified"}...], "file_count",
"total_size_bytes"}.

URL: abfs://CONTAINER/PATH, az://CONTAINER/PATH (account from
AZURE_STORAGE_ACCOUNT_NAME), abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH,
azblob://CONTAINER/PATH, file:///PATH, or a local path. Azure credentials:
DefaultAzureCredential, or AZURE_STORAGE_CONNECTION_STRING when set.
Flags may come before or after URL.`,
		example: `vzarr scan data/
vzarr scan --recursive --pattern '*.nc4' abfs://bronze/netcdf/era5/`,
		run: runScan})
}

// newOpener makes the Opener of commands that read storage: from the
// environment (blobio.NewOpenerFromEnv) with the --allow-host hosts; tests
// replace it.
var newOpener = func() *blobio.Opener {
	o := blobio.NewOpenerFromEnv()
	o.AllowedHosts = append(o.AllowedHosts, allowedHosts...)
	return o
}

// hostList is the value of --allow-host: repeatable, each a comma list.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, host := range blobio.SplitList(v, ",") {
		if strings.ContainsAny(host, "/@?#") {
			return fmt.Errorf("--allow-host wants HOST or HOST:PORT, got %q", host)
		}
		*h = append(*h, host)
	}
	return nil
}

// allowedHosts holds the --allow-host hosts of the command being run.
var allowedHosts hostList

// storageFlags adds the flags of every command that reads or writes
// storage (once per flag set): --allow-host.
func storageFlags(fs *flag.FlagSet) {
	if fs.Lookup("allow-host") != nil {
		return
	}
	allowedHosts = nil
	fs.Var(&allowedHosts, "allow-host", "a storage host (HOST or HOST:PORT) that may be reached although it is no endpoint of a configured account\n(AZURE_STORAGE_ACCOUNT_NAME, VZARR_STORAGE_ACCOUNTS); repeatable, or a comma list. The Azure credential is sent only to those")
}

func runScan(args []string, stdout, stderr io.Writer) int {
	f := newFlags("scan", stderr)
	pattern := f.String("pattern", blobio.DefaultPattern, "glob matched against each object's base name")
	recursive := f.Bool("recursive", false, "also list objects in subdirectories")
	help, err := f.parse(args)
	if help {
		return 0
	}
	if err == nil && f.NArg() != 1 {
		err = usagef("scan wants exactly one URL, got %d arguments", f.NArg())
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := f.opener().Scan(ctx, f.Arg(0), blobio.ScanOptions{Pattern: *pattern, Recursive: *recursive})
	if err != nil {
		return fail(stdout, err)
	}
	return success(stdout, res)
}
