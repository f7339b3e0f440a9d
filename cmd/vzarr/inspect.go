package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/validate"
)

func init() {
	register(command{name: "inspect",
		synopsis: "inspect [--chunks] [--fail-on-warnings] URL   chunking validation report (JSON) of a file or blob",
		run:      runInspect})
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := validate.DefaultOptions()
	fs.BoolVar(&opts.Chunks, "chunks", false, "list every dataset's storage (chunk offsets, addresses, sizes); the listing is a property of the file: the command then exits 0 whatever the report's errors")
	failOnWarnings := fs.Bool("fail-on-warnings", false, "exit with status 1 when the report has warnings")
	fs.Uint64Var(&opts.ContiguousMaxBytes, "contiguous-max-bytes", opts.ContiguousMaxBytes, "warn about contiguous variables larger than this")
	fs.Uint64Var(&opts.TinyChunkBytes, "tiny-chunk-bytes", opts.TinyChunkBytes, "warn when chunks are smaller than this (uncompressed)")
	fs.Uint64Var(&opts.HugeChunkBytes, "huge-chunk-bytes", opts.HugeChunkBytes, "warn when chunks are larger than this (uncompressed)")
	fs.Uint64Var(&opts.TimeSeriesChunkSteps, "time-series-chunk-steps", opts.TimeSeriesChunkSteps, "warn when a chunk holds more time steps than this")
	storageFlags(fs)
	limitFlags := addLimitFlags(fs)
	if err := fs.Parse(interleaved(fs, args)); err != nil {
		return 2
	}
	var err error
	if opts.Limits, err = limitFlags.limits(); err != nil {
		return fail(stdout, err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	src := fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	obj, err := newOpener().OpenObject(ctx, src, hdf5meta.DefaultReaderOptions()...)
	if err != nil {
		return fail(stdout, err)
	}
	defer obj.Close()
	rep, err := validate.Inspect(ctx, obj.Reader, obj.Size(), src, opts)
	if err != nil {
		return fail(stdout, err)
	}
	// Chunk lists can hold millions of entries: keep those on one line.
	if err := encodeJSON(stdout, rep, !opts.Chunks); err != nil {
		return fail(stdout, err)
	}
	// With --chunks the listing is what was asked for: the report's
	// errors (filters without a Zarr codec, ...) are in it, not in the
	// exit status.
	if (rep.Status == validate.StatusError && !opts.Chunks) || (*failOnWarnings && len(rep.Warnings) > 0) {
		return 1
	}
	return 0
}

// interleaved moves flags that follow positional arguments to the front,
// so "vzarr inspect FILE --chunks" works like "vzarr inspect --chunks FILE".
func interleaved(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := a[1:]
			if len(name) > 0 && name[0] == '-' {
				name = name[1:]
			}
			hasValue := false
			for _, c := range name {
				if c == '=' {
					hasValue = true
				}
			}
			if fl := fs.Lookup(name); fl != nil && !hasValue && !isBoolFlag(fl) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags parses a command's arguments (flags before or after the
// positional ones) with usage as the -h text. help reports that -h was
// asked for and answered: the command then exits 0.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stderr io.Writer) (help bool, err error) {
	storageFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	err = fs.Parse(interleaved(fs, args))
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	return false, err
}
