package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/greensight/vzarr/blobio"
)

func init() {
	register(command{name: "scan", synopsis: "scan URL [--pattern P] [--recursive]   list .nc files (JSON)", run: runScan})
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

const scanUsage = `Usage: vzarr scan URL [--pattern GLOB] [--recursive] [--verbose]

Lists the objects under URL (a directory or blob prefix) whose base names
match GLOB, sorted, as JSON (Contract 2) on stdout:

  {"success": true, "result": {"nc_files": [URL...], "files": [{"url", "size_bytes", "last_modified"}...],
   "file_count": N, "total_size_bytes": N}}

Errors are {"success": false, "error": "...", "error_type": "..."} on stdout,
with exit status 1 (2 for usage errors).

URL: abfs://CONTAINER/PATH, az://CONTAINER/PATH (account from
AZURE_STORAGE_ACCOUNT_NAME), abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH,
azblob://CONTAINER/PATH, file:///PATH, or a local path. Azure credentials:
DefaultAzureCredential, or AZURE_STORAGE_CONNECTION_STRING when set.
Flags may come before or after URL.

Flags:
`

func runScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pattern := fs.String("pattern", blobio.DefaultPattern, "glob matched against each object's base name")
	recursive := fs.Bool("recursive", false, "also list objects in subdirectories")
	verbose := fs.Bool("verbose", false, "debug logs on stderr")
	help, err := parseFlags(fs, args, scanUsage, stderr)
	if help {
		return 0
	}
	if err == nil && fs.NArg() != 1 {
		err = usagef("scan wants exactly one URL, got %d arguments", fs.NArg())
		fs.Usage()
	}
	if err != nil {
		_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: "usage_error"})
		return 2
	}

	opener := newOpener()
	if *verbose {
		opener.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := opener.Scan(ctx, fs.Arg(0), blobio.ScanOptions{Pattern: *pattern, Recursive: *recursive})
	if err != nil {
		_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: errorType(err)})
		return 1
	}
	if err := writeJSON(stdout, scanOutput{Success: true, Result: res}); err != nil {
		return 1
	}
	return 0
}

// scanOutput is Contract 2's JSON.
type scanOutput struct {
	Success bool               `json:"success"`
	Result  *blobio.ScanResult `json:"result"`
}
