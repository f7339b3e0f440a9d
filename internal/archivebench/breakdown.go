package main

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/greensight/vzarr/internal/latency"
)

// requestKind is how printBreakdown groups the proxy's requests: the
// method, the account, the object's kind (its extension, or "container"
// for a path without one), whether a range was asked for and the status.
func requestKind(r latency.Request) string {
	p := strings.TrimPrefix(r.Path, "/")
	account, rest, _ := strings.Cut(p, "/")
	kind := "container"
	if _, key, ok := strings.Cut(rest, "/"); ok && key != "" {
		kind = "*" + path.Ext(key)
		if strings.HasSuffix(key, "/") {
			kind = "prefix/"
		}
	}
	ranged := ""
	if r.Range != "" {
		ranged = " ranged"
	}
	return fmt.Sprintf("%-6s %-18s %-10s%s -> %d", r.Method, account, kind, ranged, r.Status)
}

// printBreakdown prints the requests of a run grouped by requestKind, with
// their count per file, and the sequence of requests that named the first
// source file (*.nc) the run read.
func printBreakdown(w io.Writer, timeline []latency.Request, files int) {
	counts := map[string]int{}
	var first string
	for _, r := range timeline {
		counts[requestKind(r)]++
		if first == "" && strings.HasSuffix(r.Path, ".nc") {
			first = r.Path
		}
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "requests by kind (%d in all, %d files):\n", len(timeline), files)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %6d  %5.2f/file  %s\n", counts[k], float64(counts[k])/float64(files), k)
	}
	if first == "" {
		return
	}
	stem := strings.TrimSuffix(path.Base(first), ".nc")
	fmt.Fprintf(w, "requests naming %s:\n", stem)
	for _, r := range timeline {
		if strings.Contains(r.Path, stem) {
			fmt.Fprintf(w, "  %-6s %s range=%q status=%d bytes=%d\n", r.Method, r.Path, r.Range, r.Status, r.Bytes)
		}
	}
}
