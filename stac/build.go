package stac

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/greensight/vzarr/internal/cf"
)

// ErrInvalid reports Options or a DatasetInfo that cannot make an Item.
var ErrInvalid = errors.New("stac: invalid input")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Options configures Build.
type Options struct {
	// ID of the Item; default DatasetID + "-" + ResourceID (DatasetID
	// alone without a ResourceID).
	ID         string
	DatasetID  string
	ResourceID string
	// Collection is the id of the Item's collection (optional). With it
	// the Item gets a "collection" link to CollectionHref (default
	// "../collection.json"), as STAC requires.
	Collection     string
	CollectionHref string
	// RefURL locates the combined kerchunk reference file (required).
	RefURL string
	// HrefStyle writes Azure hrefs as abfs:// (default) or https://.
	HrefStyle HrefStyle
	// Account is the storage account of the reference file and of the
	// chunks; default: the one the URLs name. Required for Azure.
	Account string
	// BlobDomain is the endpoint suffix of https hrefs; default
	// DefaultBlobDomain.
	BlobDomain string
	// RemoteProtocol overrides the fsspec protocol of the chunk URLs
	// (default: DatasetInfo.RemoteProtocol, else the reference file's).
	RemoteProtocol string
	// Title overrides DatasetInfo.Title.
	Title string
	// Created is the Item's "created" time; default now.
	Created time.Time
	// TiTiler, when set, adds a link to TiTiler-xarray tiles.
	TiTiler *TiTiler
	// Icechunk, when set, makes the Item describe a snapshot of the
	// Icechunk repository at RefURL (an "icechunk" asset) instead of a
	// kerchunk reference file (a "references" asset).
	Icechunk *Icechunk
}

// Icechunk describes the Icechunk snapshot an Item opens.
type Icechunk struct {
	// SnapshotID is the snapshot (required).
	SnapshotID string
	// Tag, when set, is a tag naming the snapshot.
	Tag string
	// Sources are the URL prefixes of the repository's virtual chunk
	// containers ("file:///data/", "az://CONTAINER/PATH/"): the folders
	// of the sources a reader authorises. Each becomes a "source" asset
	// the repository asset links to (vrt:hrefs).
	Sources []string
}

// TiTiler configures the TiTiler-xarray link.
type TiTiler struct {
	// BaseURL of the TiTiler-xarray application ("https://tiles.example.org"
	// or with a prefix, ".../xarray").
	BaseURL string
	// Variable to show; default the first data variable with x and y
	// dimensions (no link when there is none).
	Variable string
	// TileMatrixSet; default "WebMercatorQuad".
	TileMatrixSet string
	// Params are added to the query ("reference=true", "rescale=...").
	Params url.Values
}

// Build makes the STAC Item of a virtual dataset.
//
// The Item has the datacube extension's cube:dimensions and cube:variables
// (with each data variable's zarr:chunks), a "references" asset for the
// kerchunk file with xarray:open_kwargs that open it as it is, bbox and
// geometry from info.BBox (null geometry when unknown), and
// start_datetime/end_datetime from info.TimeRange (datetime alone for a
// single instant; datetime = created for data without time).
func Build(info *DatasetInfo, opts Options) (*Item, error) {
	if info == nil {
		return nil, invalidf("no dataset info")
	}
	if opts.ID == "" {
		if opts.DatasetID == "" {
			return nil, invalidf("an item id or a dataset id is required")
		}
		opts.ID = opts.DatasetID
		if opts.ResourceID != "" {
			opts.ID += "-" + opts.ResourceID
		}
	}
	if opts.RefURL == "" {
		return nil, invalidf("the reference file URL is required")
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now().Truncate(time.Millisecond)
	}
	item := &Item{
		Type:           "Feature",
		StacVersion:    Version,
		StacExtensions: []string{DatacubeExtension, XarrayAssetsExtension, ZarrExtension},
		ID:             opts.ID,
		Collection:     opts.Collection,
		Links:          []Link{},
		Assets:         map[string]Asset{},
	}
	p := &item.Properties
	p.Title = opts.Title
	if p.Title == "" {
		p.Title = info.Title
	}
	p.Description = info.Description
	p.Created = formatTime(created)

	if info.BBox != nil {
		b, err := NormalizeBBox(*info.BBox)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		item.BBox = b[:]
		item.Geometry = b.Geometry()
	}

	switch tr := info.TimeRange; {
	case tr == nil:
		s := formatTime(created)
		p.Datetime = &s
	case tr.End.Before(tr.Start):
		return nil, invalidf("time range ends (%s) before it starts (%s)", formatTime(tr.End), formatTime(tr.Start))
	case tr.Start.Equal(tr.End):
		s := formatTime(tr.Start)
		p.Datetime = &s
	default:
		p.StartDatetime, p.EndDatetime = formatTime(tr.Start), formatTime(tr.End)
	}

	p.CubeDimensions = map[string]CubeDimension{}
	for i := range info.Dimensions {
		d := &info.Dimensions[i]
		if d.Name == "" {
			return nil, invalidf("a dimension has no name")
		}
		p.CubeDimensions[d.Name] = cubeDimension(d, info)
	}
	if len(info.Variables) > 0 {
		p.CubeVariables = map[string]CubeVariable{}
	}
	for _, v := range info.Variables {
		for _, dim := range v.Dims {
			if _, ok := p.CubeDimensions[dim]; !ok {
				return nil, invalidf("variable %q uses dimension %q, which is not described", v.Name, dim)
			}
		}
		p.CubeVariables[v.Name] = cubeVariable(&v)
	}

	var href string
	if opts.Icechunk != nil {
		var err error
		if href, err = icechunkAssets(item, &opts); err != nil {
			return nil, err
		}
	} else {
		asset, h, err := referencesAsset(info, &opts)
		if err != nil {
			return nil, err
		}
		item.Assets[ReferencesAssetKey], href = asset, h
	}
	if opts.Collection != "" {
		h := opts.CollectionHref
		if h == "" {
			h = "../collection.json"
		}
		item.Links = append(item.Links, Link{Rel: "collection", Href: h, Type: MediaTypeJSON})
	}
	if opts.TiTiler != nil {
		l, err := titilerLink(info, opts.TiTiler, href)
		if err != nil {
			return nil, err
		}
		if l != nil {
			item.Links = append(item.Links, *l)
		}
	}
	return item, nil
}

// cubeDimension writes a Dimension as a datacube Dimension Object.
func cubeDimension(d *Dimension, info *DatasetInfo) CubeDimension {
	cd := CubeDimension{Description: d.Description, Unit: d.Unit}
	step := func() {
		switch d.Spacing {
		case SpacingRegular:
			cd.Step = NumberStep(d.Step)
		case SpacingIrregular:
			cd.Step = IrregularStep
		}
	}
	values := func() {
		for _, v := range d.Values {
			cd.Values = append(cd.Values, v)
		}
		for _, v := range d.Labels {
			cd.Values = append(cd.Values, v)
		}
	}
	switch d.Axis {
	case AxisX, AxisY:
		ext := d.Extent
		if ext == nil && info.BBox != nil && d.ReferenceSystem == nil {
			// Only the box is known: use its longitudes or latitudes.
			b := *info.BBox
			if d.Axis == AxisX {
				e := b[2]
				if b[0] > e {
					e += 360
				}
				ext = &[2]float64{b[0], e}
			} else {
				ext = &[2]float64{b[1], b[3]}
			}
		}
		if ext == nil || (d.ReferenceSystem == nil && !isDegrees(d.Unit)) {
			// A horizontal spatial dimension needs an extent and a known
			// reference system (absent means EPSG:4326): without them,
			// describe it as another dimension.
			cd.Type = "other"
			if ext != nil {
				cd.Extent = []any{ext[0], ext[1]}
				step()
			} else {
				cd.Extent = []any{nil, nil}
			}
			values()
			return cd
		}
		cd.Type, cd.Axis = "spatial", string(d.Axis)
		cd.Extent = []any{ext[0], ext[1]}
		step()
		if d.Spacing == SpacingIrregular {
			values()
		}
		cd.ReferenceSystem = d.ReferenceSystem
		if cd.ReferenceSystem == nil {
			cd.ReferenceSystem = 4326
		}
	case AxisZ:
		cd.Type, cd.Axis = "spatial", "z"
		if d.Extent != nil {
			cd.Extent = []any{d.Extent[0], d.Extent[1]}
		}
		step()
		values()
		if cd.Extent == nil && cd.Values == nil {
			cd.Extent = []any{nil, nil}
		}
		cd.ReferenceSystem = d.ReferenceSystem
	case AxisT:
		cd.Type, cd.Unit = "temporal", ""
		cd.Extent = []any{nil, nil}
		if d.Start != nil {
			cd.Extent[0] = formatTime(*d.Start)
		}
		if d.End != nil {
			cd.Extent[1] = formatTime(*d.End)
		}
		switch d.Spacing {
		case SpacingRegular:
			cd.Step = DurationStep(d.TimeStep)
		case SpacingIrregular:
			cd.Step = IrregularStep
		}
	default:
		cd.Type = "other"
		switch {
		case d.Extent != nil:
			cd.Extent = []any{d.Extent[0], d.Extent[1]}
			step()
		case len(d.Labels) == 0:
			// No coordinate variable: the dimension is an index.
			cd.Extent = []any{0, max(d.Size-1, 0)}
			cd.Step = NumberStep(1)
			if cd.Description == "" {
				cd.Description = "index (no coordinate variable)"
			}
		}
		values()
		if ref, ok := d.ReferenceSystem.(string); ok {
			cd.ReferenceSystem = ref
		}
	}
	return cd
}

// cubeVariable writes a Variable as a datacube Variable Object.
func cubeVariable(v *Variable) CubeVariable {
	cv := CubeVariable{Dimensions: slices.Clone(v.Dims), Type: "data", Description: v.Description, Unit: v.Unit,
		NoData: noData(v.NoData), DataType: stacDataType(v.DataType)}
	if cv.Dimensions == nil {
		cv.Dimensions = []string{}
	}
	if v.Auxiliary {
		cv.Type = "auxiliary"
	} else {
		cv.ZarrChunks = slices.Clone(v.Chunks)
	}
	return cv
}

// noData writes a no-data value as STAC wants it: a number, or "nan",
// "inf", "-inf".
func noData(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		switch {
		case math.IsNaN(x):
			return "nan"
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		return x
	case float32:
		return noData(float64(x))
	case string:
		switch strings.ToLower(x) {
		case "nan":
			return "nan"
		case "inf", "infinity", "+inf":
			return "inf"
		case "-inf", "-infinity":
			return "-inf"
		}
		return nil
	}
	return v
}

// stacDataType maps numpy's type name to a STAC data type.
func stacDataType(np string) string {
	switch np {
	case "":
		return ""
	case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64":
		return np
	case "complex64":
		return "cfloat32"
	case "complex128":
		return "cfloat64"
	}
	return "other"
}

// referencesAsset builds the kerchunk asset and returns its href.
func referencesAsset(info *DatasetInfo, opts *Options) (Asset, string, error) {
	loc, err := ParseRefURL(opts.RefURL)
	if err != nil {
		return Asset{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	account := opts.Account
	if account == "" {
		account = loc.Account
	}
	href, err := loc.href(opts.HrefStyle, account, opts.BlobDomain)
	if err != nil {
		return Asset{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if loc.IsAzure() && account == "" {
		return Asset{}, "", invalidf("the storage account of %s is unknown (Options.Account)", opts.RefURL)
	}
	so := map[string]any{"fo": href}
	if loc.IsAzure() && strings.HasPrefix(href, "abfs://") {
		so["target_options"] = map[string]any{"account_name": account}
	}
	rp := opts.RemoteProtocol
	if rp == "" {
		rp = info.RemoteProtocol
	}
	if rp == "" {
		rp = loc.Protocol
	}
	so["remote_protocol"] = rp
	ro := map[string]any{}
	if rp == "abfs" || rp == "az" || rp == "abfss" {
		acct := info.RemoteAccount
		if acct == "" {
			acct = account
		}
		if acct == "" {
			return Asset{}, "", invalidf("the storage account of the chunks is unknown (Options.Account)")
		}
		ro["account_name"] = acct
	}
	so["remote_options"] = ro
	consolidated := info.Consolidated
	return Asset{
		Href:        href,
		Type:        MediaTypeJSON,
		Title:       "Kerchunk references (virtual Zarr store)",
		Description: "Open with xarray: xr.open_dataset(**asset[\"xarray:open_kwargs\"]).",
		Roles:       []string{"references", "index"},
		OpenKwargs: map[string]any{
			"filename_or_obj": "reference://",
			"engine":          "zarr",
			// No "consolidated": xarray then reads .zmetadata when it is
			// there and lists the store when not, on every stack; False
			// would make zarr-python 3 list the store, losing the groups.
			"storage_options": so,
		},
		ZarrFormat:       2,
		ZarrConsolidated: &consolidated,
		ZarrNodeType:     "group",
	}, href, nil
}

// icechunkAssets adds the Icechunk repository asset, as xpystac reads
// one (media type MediaTypeIcechunk, roles data/references/virtual, the
// snapshot as its version), and an asset per source folder, and returns
// the repository's href. Azure locations get a storage extension
// scheme of their account.
func icechunkAssets(item *Item, opts *Options) (string, error) {
	ic := opts.Icechunk
	if ic.SnapshotID == "" {
		return "", invalidf("an Icechunk item needs the snapshot id")
	}
	loc, err := ParseRefURL(opts.RefURL)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	account := opts.Account
	if account == "" {
		account = loc.Account
	}
	if loc.IsAzure() && account == "" {
		return "", invalidf("the storage account of %s is unknown (Options.Account)", opts.RefURL)
	}
	href, err := loc.href(opts.HrefStyle, account, opts.BlobDomain)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	storageRefs := func(l RefLocation) []string {
		if !l.IsAzure() {
			return nil
		}
		acct := l.Account
		if acct == "" {
			acct = account
		}
		key := "azure-" + acct
		if item.Properties.StorageSchemes == nil {
			item.Properties.StorageSchemes = map[string]StorageScheme{}
		}
		item.Properties.StorageSchemes[key] = StorageScheme{Type: "ms-azure", Platform: "https://{account}.blob.core.windows.net", Account: acct}
		return []string{key}
	}
	consolidated := false
	repo := Asset{
		Href:        href,
		Type:        MediaTypeIcechunk,
		Title:       "Icechunk repository (virtual Zarr v3 store)",
		Description: "Open with icechunk: Repository.open(storage, authorize_virtual_chunk_access={<each source href>: credentials}), readonly_session(snapshot_id=asset[\"icechunk:snapshot_id\"]), then xr.open_dataset(session.store, **asset[\"xarray:open_kwargs\"]).",
		Roles:       []string{"data", "references", "virtual"},
		// The keyword arguments that go with the session's store.
		OpenKwargs:         map[string]any{"engine": "zarr", "zarr_format": 3, "consolidated": false, "chunks": map[string]any{}},
		ZarrFormat:         3,
		ZarrConsolidated:   &consolidated,
		ZarrNodeType:       "group",
		Version:            ic.SnapshotID,
		IcechunkSnapshotID: ic.SnapshotID,
		IcechunkTag:        ic.Tag,
		StorageRefs:        storageRefs(loc),
	}
	for i, src := range ic.Sources {
		key := SourceAssetKey
		if i > 0 {
			key = fmt.Sprintf("%s-%d", SourceAssetKey, i+1)
		}
		sloc, err := ParseRefURL(src)
		if err != nil {
			return "", fmt.Errorf("%w: source %v", ErrInvalid, err)
		}
		item.Assets[key] = Asset{Href: src, Title: "Source files of the virtual chunks", Roles: []string{"data", "source"},
			StorageRefs: storageRefs(sloc)}
		repo.VirtualHrefs = append(repo.VirtualHrefs, VirtualHref{Key: key, Href: "#/assets/" + key})
	}
	item.Assets[IcechunkAssetKey] = repo
	return href, nil
}

// titilerLink builds the TiTiler-xarray tiles link; nil when no variable
// has x and y dimensions.
func titilerLink(info *DatasetInfo, t *TiTiler, href string) (*Link, error) {
	if t.BaseURL == "" {
		return nil, invalidf("TiTiler link: no base URL")
	}
	variable := t.Variable
	if variable == "" {
		for _, v := range info.Variables {
			if !v.Auxiliary && hasXY(info, v.Dims) {
				variable = v.Name
				break
			}
		}
		if variable == "" {
			return nil, nil
		}
	} else if v := info.Variable(variable); v == nil {
		return nil, invalidf("TiTiler link: no variable %q", variable)
	}
	tms := t.TileMatrixSet
	if tms == "" {
		tms = "WebMercatorQuad"
	}
	q := url.Values{}
	for k, vs := range t.Params {
		q[k] = slices.Clone(vs)
	}
	q.Set("url", href)
	q.Set("variable", variable)
	return &Link{
		Rel:   "xyz",
		Href:  strings.TrimRight(t.BaseURL, "/") + "/tiles/" + url.PathEscape(tms) + "/{z}/{x}/{y}.png?" + q.Encode(),
		Type:  "image/png",
		Title: "TiTiler-xarray tiles of " + variable,
	}, nil
}

func hasXY(info *DatasetInfo, dims []string) bool {
	var x, y bool
	for _, name := range dims {
		if d := info.Dimension(name); d != nil {
			x = x || d.Axis == AxisX
			y = y || d.Axis == AxisY
		}
	}
	return x && y
}

// isDegrees reports whether a unit is one of longitude or latitude (or
// missing, as for a plain "lon" coordinate).
func isDegrees(unit string) bool {
	u := strings.ToLower(unit)
	return u == "" || u == "degrees" || u == "degree" || cf.IsLonUnits(u) || cf.IsLatUnits(u)
}
