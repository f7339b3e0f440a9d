package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/pipeline"
)

// The plumbing every subcommand shares: one flag set with the common
// flags (--verbose, --allow-host), -o/--out for outputs, hidden aliases
// for old flag names, the --help text (synopsis, description, example,
// flags) and the JSON envelope on stdout for usage errors, failures and
// results alike.

// cmdFlags is the flag set of one command.
type cmdFlags struct {
	*flag.FlagSet
	cmd     command
	stderr  io.Writer
	hidden  map[string]bool   // aliases left out of --help
	short   map[string]string // a flag's one-letter alias, shown with it
	verbose bool
	printed bool // the flag package has printed the error and the help
	// limitErr is the error of the VZARR_LIMIT_* variables (addLimits).
	limitErr error
}

// newFlags returns the flag set of the registered command name, with
// --verbose and --allow-host.
func newFlags(name string, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &cmdFlags{FlagSet: fs, cmd: commands[name], stderr: stderr, hidden: map[string]bool{}, short: map[string]string{}}
	fs.BoolVar(&f.verbose, "verbose", false, "debug logs on stderr")
	storageFlags(fs)
	fs.Usage = f.usage
	return f
}

// alias makes name a hidden alias of the flag target (an old spelling).
func (f *cmdFlags) alias(name, target string) {
	fl := f.Lookup(target)
	f.Var(fl.Value, name, fl.Usage)
	f.hidden[name] = true
}

// output registers the command's output flag, -o/--out, with hidden
// aliases (old spellings such as out-dir).
func (f *cmdFlags) output(p *string, usage string, aliases ...string) {
	f.StringVar(p, "out", "", usage)
	f.alias("o", "out")
	f.short["out"] = "o"
	for _, a := range aliases {
		f.alias(a, "out")
	}
}

// parse parses args (flags before or after the positional arguments).
// help reports that --help was asked for and printed: the command then
// exits 0. A bad flag is a usageError.
func (f *cmdFlags) parse(args []string) (help bool, err error) {
	err = f.Parse(interleaved(f.FlagSet, args))
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		f.printed = true
		return false, usageError(err.Error())
	}
	if f.limitErr != nil {
		return false, usagef("%v", f.limitErr)
	}
	return false, nil
}

// usage prints the --help text on stderr.
func (f *cmdFlags) usage() { fmt.Fprint(f.stderr, f.helpText()) }

// helpText is the command's --help: synopsis, description, example and
// flags (hidden aliases left out).
func (f *cmdFlags) helpText() string {
	var b strings.Builder
	c := f.cmd
	fmt.Fprintf(&b, "Usage: vzarr %s\n\n%s\n", c.synopsis, c.summary)
	if c.help != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.help))
	}
	b.WriteString("\nOn stdout: {\"success\": true, \"result\": ...}, or {\"success\": false, \"error\": \"...\",\n\"error_type\": \"...\"} with exit status 1 (2 for usage errors).\n")
	b.WriteString("\nExample:\n")
	for _, l := range strings.Split(strings.TrimSpace(c.example), "\n") {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
	}
	b.WriteString("\nFlags:\n")
	f.VisitAll(func(fl *flag.Flag) {
		if f.hidden[fl.Name] {
			return
		}
		name, usage := flag.UnquoteUsage(fl)
		b.WriteString("  ")
		if s := f.short[fl.Name]; s != "" {
			fmt.Fprintf(&b, "-%s, ", s)
		}
		dash := "--"
		if len(fl.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "%s%s", dash, fl.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", fl.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// logger returns the command's logger: debug logs on stderr with
// --verbose, else nothing (the outcome is the JSON on stdout).
func (f *cmdFlags) logger() *slog.Logger {
	level := slog.LevelError + 4
	if f.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(f.stderr, &slog.HandlerOptions{Level: level}))
}

// opener returns the Opener of the command (newOpener), logging with
// --verbose.
func (f *cmdFlags) opener() *blobio.Opener {
	o := newOpener()
	if f.verbose {
		o.Logger = f.logger()
	}
	return o
}

// usageFail prints the usage error's envelope, the --help text on
// stderr, and returns exit status 2.
func (f *cmdFlags) usageFail(stdout io.Writer, err error) int {
	if !errors.As(err, new(usageError)) {
		err = usageError(err.Error())
	}
	if !f.printed {
		fmt.Fprintf(f.stderr, "vzarr %s: %v\n\n", f.Name(), err)
		f.usage()
	}
	return fail(stdout, err)
}

// success prints the success envelope of result and returns 0.
func success(stdout io.Writer, result any) int {
	if err := writeJSON(stdout, pipeline.OK(result)); err != nil {
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
			name := strings.TrimPrefix(a[1:], "-")
			hasValue := strings.Contains(name, "=")
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
