package main

import (
	"context"
	"fmt"

	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

// icechunkFlags are the commit flags of the commands that write Icechunk
// repositories (ref, combine).
type icechunkFlags struct {
	message, tag string
	append       bool
}

// register adds --message and --tag.
func (i *icechunkFlags) register(f *cmdFlags) {
	f.StringVar(&i.message, "message", "", "with --format icechunk: the commit message")
	f.StringVar(&i.tag, "tag", "", "with --format icechunk: a tag created on the new snapshot")
}

// check refuses the flags without --format icechunk.
func (i *icechunkFlags) check(format refstore.Format) error {
	if format == refstore.Icechunk {
		return nil
	}
	switch {
	case i.append:
		return usagef("--append needs --format icechunk")
	case i.tag != "":
		return usagef("--tag needs --format icechunk")
	case i.message != "":
		return usagef("--message needs --format icechunk")
	}
	return nil
}

// icechunkCombineResult is combine's result with --format icechunk.
type icechunkCombineResult struct {
	*pipeline.CombineResult
	SnapshotID string `json:"snapshot_id"`
	Tag        string `json:"tag,omitempty"`
	// Appended is the snapshot the commit was appended to (--append).
	Appended string `json:"appended_to,omitempty"`
}

// combineIcechunk runs combine into an Icechunk repository: a new one, or
// with ice.append a commit on main of p.CombinedRefURL whose current
// version is the first input of the combine.
func combineIcechunk(ctx context.Context, deps *pipeline.Deps, p pipeline.CombineParams, ice icechunkFlags) (*icechunkCombineResult, error) {
	store := &refstore.Store{Opener: deps.Opener, Limits: deps.Limits}
	var sources []combine.Source
	var parent icechunk.ObjectID
	if ice.append {
		refs, id, err := store.LoadIcechunk(ctx, p.CombinedRefURL, refstore.IcechunkVersion{})
		if err != nil {
			return nil, fmt.Errorf("combine --append: %w", err)
		}
		parent = id
		sources = append(sources, combine.Refs(p.CombinedRefURL+"@"+id.String(), refs))
	}
	for _, u := range p.RefURLs {
		sources = append(sources, &combine.URLSource{URL: u, Opener: deps.Opener, Translate: kerchunk.Options{Limits: deps.Limits}})
	}
	res, err := combine.Combine(ctx, sources, combine.Options{ConcatDim: p.ConcatDim, Identical: p.Identical,
		Opener: deps.Opener, Parallel: deps.CombineParallel, Logger: deps.Logger, Limits: deps.Limits})
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	c, err := store.CommitIcechunk(ctx, p.CombinedRefURL, res.Refs,
		refstore.IcechunkCommit{Message: ice.message, Tag: ice.tag, Append: ice.append, Parent: parent})
	if err != nil {
		return nil, fmt.Errorf("combine: writing %s: %w", p.CombinedRefURL, err)
	}
	files := res.SourceFiles
	if ice.append {
		files = files[1:]
	}
	out := &icechunkCombineResult{CombineResult: &pipeline.CombineResult{DatasetID: p.DatasetID, CombinedRefURL: p.CombinedRefURL,
		SourceFiles: files, Dimensions: res.Dimensions, Variables: res.Variables, TimeRange: res.TimeRange,
		SpatialExtent: res.SpatialExtent, RefSizeBytes: c.Bytes, Warnings: res.Warnings},
		SnapshotID: c.SnapshotID.String(), Tag: ice.tag}
	if ice.append {
		out.Appended = parent.String()
	}
	if out.TimeRange == nil {
		out.TimeRange = []string{}
	}
	if out.SpatialExtent == nil {
		out.SpatialExtent = []float64{}
	}
	return out, nil
}
