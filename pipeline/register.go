package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/stac"
)

// RegisterParams are the register stage's parameters (Contract 6): the
// Release to complete and the combine stage's result (Contract 5).
type RegisterParams struct {
	ReleaseID      string `json:"release_id"`
	DatasetID      string `json:"dataset_id"`
	ResourceID     string `json:"resource_id"`
	CollectionID   string `json:"collection_id"`
	CombinedRefURL string `json:"combined_ref_url"`
	// PublishRefURL, when set, is where the combined reference is
	// published after the job (a staging folder swapped into place): the
	// item and blob_path name it, while the reference is read from
	// CombinedRefURL.
	PublishRefURL string `json:"publish_ref_url,omitempty"`
	// RepoURL, when set (output_format icechunk), is the Icechunk
	// repository of the dataset and resource: the stage commits the
	// combined references (read from CombinedRefURL) to it as one
	// snapshot on main tagged with ReleaseID, right before it completes
	// the Release; blob_path is RepoURL and the item describes the
	// snapshot. PublishRefURL does not apply.
	RepoURL string `json:"repo_url,omitempty"`
	// Dimensions maps dimension names to lengths.
	Dimensions map[string]int64 `json:"dimensions"`
	// Variables names the data variables.
	Variables []string `json:"variables"`
	// TimeRange is [ISO start, ISO end]; empty without time.
	TimeRange []string `json:"time_range"`
	// SpatialExtent is [west, south, east, north] in degrees; empty when
	// unknown.
	SpatialExtent []float64 `json:"spatial_extent"`
}

// RegisterResult is the result of a successful register stage.
type RegisterResult struct {
	StacItemCached bool   `json:"stac_item_cached"`
	ReleaseUpdated bool   `json:"release_updated"`
	BlobPath       string `json:"blob_path"`
	// SnapshotID is the Icechunk snapshot of the Release (RepoURL set).
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// STACConfig configures the items the register stage builds.
type STACConfig struct {
	// HrefStyle writes the references asset as abfs:// (default) or
	// https://ACCOUNT.blob.core.windows.net/... hrefs.
	HrefStyle stac.HrefStyle
	// Account is the storage account named in the open kwargs; default
	// the Opener's AccountName, else the one the URL names.
	Account string
	// BlobDomain of https hrefs; default blob.core.windows.net.
	BlobDomain string
	// CollectionHref of the item's collection link (default
	// "../collection.json").
	CollectionHref string
	// TiTiler, when set, adds a TiTiler-xarray link.
	TiTiler *stac.TiTiler
}

// RefLoader reads the kerchunk reference file at url.
type RefLoader func(ctx context.Context, url string) (*kerchunk.Refs, error)

// RegisterDeps are what the register stage works with.
type RegisterDeps struct {
	// Store is the Asset/Release catalog (required).
	Store catalog.Store
	// Opener reads the reference file and coordinate chunks (local files,
	// Azure); nil means blobio.NewOpenerFromEnv().
	Opener *blobio.Opener
	// LoadRefs overrides how the reference file is read; default:
	// refstore.Store.Load through Opener (a JSON file or a Parquet set).
	LoadRefs RefLoader
	// STAC configures the item.
	STAC STACConfig
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now gives the item's "created" time; nil means time.Now.
	Now func() time.Time
	// Limits bound what reading the references and their coordinates
	// may allocate; the zero value means limits.Default().
	Limits limits.Limits
}

// RegisterZarrSTACJSON runs the register stage on JSON parameters.
func RegisterZarrSTACJSON(ctx context.Context, deps RegisterDeps, params []byte) Envelope {
	var p RegisterParams
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Fail(invalidParams("%v", err))
	}
	return RegisterZarrSTAC(ctx, deps, p)
}

// RegisterZarrSTAC is the register stage (Contract 6). It reads the
// combined reference file, builds its STAC item (package stac) with the
// combine stage's time range, spatial extent, dimensions and data
// variables, and then, in one catalog transaction, caches the item on the
// Release (stac_item_json), sets its blob_path to the reference file's
// path and moves it to COMPLETED. It never writes pgSTAC: the approval
// flow publishes the cached item.
//
// With RepoURL (output_format icechunk) it commits the references to that
// Icechunk repository (one snapshot on main, tagged with the Release id)
// after everything else has been checked and right before the catalog
// transaction; blob_path is then RepoURL, the item describes the snapshot
// and the result carries its "snapshot_id". A retried task whose commit
// is there already (the tag exists) reuses it.
//
// It returns {"success": true, "result": {"stac_item_cached": true,
// "release_updated": true, "blob_path": "refs/..."}}, or a failure
// envelope. Running it again on a COMPLETED, not yet approved Release
// replaces the item (a retried task).
func RegisterZarrSTAC(ctx context.Context, deps RegisterDeps, params RegisterParams) Envelope {
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	start := time.Now()
	attrs := []any{
		slog.String("stage", "register"),
		slog.String("release_id", params.ReleaseID),
		slog.String("dataset_id", params.DatasetID),
		slog.String("resource_id", params.ResourceID),
		slog.String("collection_id", params.CollectionID),
		slog.String("combined_ref_url", params.CombinedRefURL),
	}
	res, warnings, err := register(ctx, &deps, &params)
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	if err != nil {
		env := Fail(err)
		log.ErrorContext(ctx, "pipeline: register failed", append(attrs,
			slog.String("error", env.Error), slog.String("error_type", env.ErrorType))...)
		return env
	}
	for _, w := range warnings {
		log.WarnContext(ctx, "pipeline: register: "+w, attrs[:2]...)
	}
	attrs = append(attrs, slog.String("blob_path", res.BlobPath), slog.Int("warnings", len(warnings)))
	if res.SnapshotID != "" {
		attrs = append(attrs, slog.String("snapshot_id", res.SnapshotID))
	}
	log.InfoContext(ctx, "pipeline: registered", attrs...)
	return OK(res)
}

func (p *RegisterParams) validate() (*stac.TimeRange, *stac.BBox, error) {
	for name, v := range map[string]string{"release_id": p.ReleaseID, "dataset_id": p.DatasetID,
		"resource_id": p.ResourceID, "combined_ref_url": p.CombinedRefURL} {
		if strings.TrimSpace(v) == "" {
			return nil, nil, invalidParams("%s is required", name)
		}
	}
	var tr *stac.TimeRange
	switch len(p.TimeRange) {
	case 0:
	case 2:
		s, err1 := parseISO(p.TimeRange[0])
		e, err2 := parseISO(p.TimeRange[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, invalidParams("time_range: %v", err)
		}
		if e.Before(s) {
			return nil, nil, invalidParams("time_range ends before it starts")
		}
		tr = &stac.TimeRange{Start: s, End: e}
	default:
		return nil, nil, invalidParams("time_range must be [start, end], not %d values", len(p.TimeRange))
	}
	var bb *stac.BBox
	switch len(p.SpatialExtent) {
	case 0:
	case 4:
		b := stac.BBox(p.SpatialExtent)
		if _, err := stac.NormalizeBBox(b); err != nil {
			return nil, nil, invalidParams("spatial_extent: %v", err)
		}
		bb = &b
	default:
		return nil, nil, invalidParams("spatial_extent must be [west, south, east, north], not %d values", len(p.SpatialExtent))
	}
	for name, n := range p.Dimensions {
		if n < 0 {
			return nil, nil, invalidParams("dimension %q has a negative length", name)
		}
	}
	return tr, bb, nil
}

// parseISO reads RFC 3339 times, also without a zone (UTC) or as a date.
func parseISO(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time", s)
}

func register(ctx context.Context, deps *RegisterDeps, p *RegisterParams) (*RegisterResult, []string, error) {
	if deps.Store == nil {
		return nil, nil, &StageError{Type: ErrTypeConfig, Err: errors.New("register: no catalog store")}
	}
	tr, bbox, err := p.validate()
	if err != nil {
		return nil, nil, err
	}
	rel, err := deps.Store.GetRelease(ctx, p.ReleaseID)
	if err != nil {
		return nil, nil, fmt.Errorf("register: %w", err)
	}
	asset, err := deps.Store.GetAsset(ctx, rel.AssetID)
	if err != nil {
		return nil, nil, fmt.Errorf("register: %w", err)
	}
	if asset.DatasetID != p.DatasetID || asset.ResourceID != p.ResourceID {
		return nil, nil, &StageError{Type: ErrTypeReleaseMismatch, Err: fmt.Errorf(
			"register: release %s belongs to %s/%s, not %s/%s", rel.ID, asset.DatasetID, asset.ResourceID, p.DatasetID, p.ResourceID)}
	}
	// Refuse early what CompleteRelease would refuse, before reading blobs.
	if rel.ApprovalState != catalog.ApprovalPending || rel.ProcessingStatus == catalog.StatusFailed {
		te := &catalog.TransitionError{Kind: "release", ID: rel.ID, From: string(rel.ProcessingStatus), To: string(catalog.StatusCompleted)}
		if rel.ApprovalState != catalog.ApprovalPending {
			te.Reason = "approval already " + string(rel.ApprovalState)
		}
		return nil, nil, te
	}
	published, field := p.CombinedRefURL, "combined_ref_url"
	switch {
	case p.RepoURL != "":
		published, field = p.RepoURL, "repo_url"
	case p.PublishRefURL != "":
		published = p.PublishRefURL
	}
	// blob_path is the path after the URL's authority: for
	// abfs://ACCOUNT/CONTAINER/PATH (Contract 6's example) CONTAINER/PATH.
	loc, err := stac.ParseRefURL(published)
	if err != nil {
		return nil, nil, invalidParams("%s: %v", field, err)
	}

	opener := deps.Opener
	if opener == nil {
		opener = envOpener()
	}
	load := deps.LoadRefs
	if load == nil {
		load = func(ctx context.Context, url string) (*kerchunk.Refs, error) {
			return (&refstore.Store{Opener: opener, Limits: deps.Limits}).Load(ctx, url)
		}
	}
	refs, err := load(ctx, p.CombinedRefURL)
	if err != nil {
		return nil, nil, fmt.Errorf("register: reading %s: %w", p.CombinedRefURL, err)
	}
	fetch := blobio.NewBlobFetcher(opener, 0)
	defer fetch.Close()
	info, err := stac.FromReferences(ctx, refs, stac.RefOptions{ReadRange: fetch.Fetch, Limits: deps.Limits})
	if err != nil {
		return nil, nil, fmt.Errorf("register: %w", err)
	}
	warnings := append([]string(nil), info.Warnings...)
	warnings = append(warnings, applyCombineResult(info, p, tr, bbox)...)

	account := deps.STAC.Account
	if account == "" {
		account = opener.AccountName
	}
	// The item names the reference file as adlfs resolves it: an
	// abfs://ACCOUNT/CONTAINER/PATH URL (an account of opener.Accounts)
	// becomes CONTAINER@ACCOUNT..., and the account a URL names wins.
	refURL := published
	if l, err := opener.Parse(refURL); err == nil && l.IsAzure() && l.Account != "" {
		refURL, account = l.RefURL(), l.Account
	}
	now := time.Now
	if deps.Now != nil {
		now = deps.Now
	}
	opts := stac.Options{
		DatasetID:      p.DatasetID,
		ResourceID:     p.ResourceID,
		Collection:     p.CollectionID,
		CollectionHref: deps.STAC.CollectionHref,
		RefURL:         refURL,
		HrefStyle:      deps.STAC.HrefStyle,
		Account:        account,
		BlobDomain:     deps.STAC.BlobDomain,
		Created:        now(),
		TiTiler:        deps.STAC.TiTiler,
	}
	blobPath, snapshot := loc.BlobPath(), ""
	if p.RepoURL != "" {
		rs := &refstore.Store{Opener: opener, Limits: deps.Limits}
		containers, err := repoContainers(rs, refs)
		if err != nil {
			return nil, nil, fmt.Errorf("register: %w", err)
		}
		opts.Icechunk = &stac.Icechunk{SnapshotID: icechunk.ObjectID{}.String(), Tag: rel.ID}
		for _, c := range containers {
			opts.Icechunk.Sources = append(opts.Icechunk.Sources, c.URLPrefix)
		}
		// Everything that may refuse the item is checked before the
		// commit: a failed register commits nothing.
		if _, err := stac.Build(info, opts); err != nil {
			return nil, nil, fmt.Errorf("register: %w", err)
		}
		id, err := commitRelease(ctx, rs, p.RepoURL, refs, containers, rel.ID, p.DatasetID, p.ResourceID)
		if err != nil {
			return nil, nil, fmt.Errorf("register: %w", err)
		}
		snapshot = id.String()
		opts.Icechunk.SnapshotID = snapshot
		blobPath = p.RepoURL
	}
	item, err := stac.Build(info, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("register: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(item); err != nil {
		return nil, nil, fmt.Errorf("register: encoding the item: %w", err)
	}
	if _, err := deps.Store.CompleteRelease(ctx, rel.ID, catalog.Completion{
		BlobPath: blobPath, StacItemJSON: bytes.TrimSpace(buf.Bytes())}); err != nil {
		return nil, nil, fmt.Errorf("register: %w", err)
	}
	return &RegisterResult{StacItemCached: true, ReleaseUpdated: true, BlobPath: blobPath, SnapshotID: snapshot}, warnings, nil
}

// applyCombineResult puts the combine stage's summary over what the
// reference file says: its time range and spatial extent win, its data
// variables are the data variables (the others become auxiliary), and
// dimensions it names but the file lacks are added. It returns warnings
// for disagreements.
func applyCombineResult(info *stac.DatasetInfo, p *RegisterParams, tr *stac.TimeRange, bbox *stac.BBox) []string {
	var warnings []string
	if tr != nil {
		info.TimeRange = tr
		for i := range info.Dimensions {
			d := &info.Dimensions[i]
			if d.Axis == stac.AxisT && d.Start == nil {
				s, e := tr.Start, tr.End
				d.Start, d.End = &s, &e
			}
		}
	}
	if bbox != nil {
		info.BBox = bbox
	}
	for name, n := range p.Dimensions {
		d := info.Dimension(name)
		switch {
		case d == nil:
			warnings = append(warnings, fmt.Sprintf("dimension %q of the combine result is not in the reference file", name))
		case d.Size != n:
			warnings = append(warnings, fmt.Sprintf("dimension %q has length %d in the reference file, %d in the combine result", name, d.Size, n))
		}
	}
	if len(p.Variables) > 0 {
		data := map[string]bool{}
		for _, v := range p.Variables {
			data[v] = true
			if info.Variable(v) == nil {
				warnings = append(warnings, fmt.Sprintf("variable %q of the combine result is not in the reference file", v))
			}
		}
		for i := range info.Variables {
			info.Variables[i].Auxiliary = !data[info.Variables[i].Name]
		}
	}
	return warnings
}
