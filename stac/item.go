package stac

import "encoding/json"

// Versions and the JSON schemas of the extensions an Item may use.
const (
	Version = "1.1.0"

	// DatacubeExtension: cube:dimensions and cube:variables.
	DatacubeExtension = "https://stac-extensions.github.io/datacube/v2.3.0/schema.json"
	// XarrayAssetsExtension: xarray:open_kwargs on the references asset.
	XarrayAssetsExtension = "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json"
	// ZarrExtension: zarr:zarr_format, zarr:consolidated and zarr:node_type
	// on the references asset.
	ZarrExtension = "https://stac-extensions.github.io/zarr/v1.1.0/schema.json"
)

// Media types and roles of the references asset.
const (
	MediaTypeJSON = "application/json"
	// ReferencesAssetKey is the key of the kerchunk references asset.
	ReferencesAssetKey = "references"
	// MediaTypeIcechunk is the media type of an Icechunk repository
	// asset, the one xpystac opens with the icechunk library.
	MediaTypeIcechunk = "application/vnd.zarr+icechunk"
	// IcechunkAssetKey is the key of the Icechunk repository asset.
	IcechunkAssetKey = "icechunk"
	// SourceAssetKey is the key (with "-N" from the second on) of the
	// assets naming the sources' folders of an Icechunk item's virtual
	// chunks (its virtual chunk containers).
	SourceAssetKey = "source"
)

// Item is a STAC 1.1 Item. Marshalled with encoding/json it is valid STAC:
// fields appear in a fixed order and maps with sorted keys, so the same
// Item gives the same bytes.
type Item struct {
	Type           string           `json:"type"` // "Feature"
	StacVersion    string           `json:"stac_version"`
	StacExtensions []string         `json:"stac_extensions"`
	ID             string           `json:"id"`
	Collection     string           `json:"collection,omitempty"`
	Geometry       *Geometry        `json:"geometry"`       // null when the extent is unknown
	BBox           []float64        `json:"bbox,omitempty"` // [west, south, east, north]
	Properties     Properties       `json:"properties"`
	Links          []Link           `json:"links"`
	Assets         map[string]Asset `json:"assets"`
}

// Geometry is a GeoJSON geometry: Point, LineString, Polygon or
// MultiPolygon.
type Geometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

// Properties are the Item's properties.
type Properties struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Datetime is null (nil) when StartDatetime/EndDatetime give a range.
	Datetime      *string `json:"datetime"`
	StartDatetime string  `json:"start_datetime,omitempty"`
	EndDatetime   string  `json:"end_datetime,omitempty"`
	Created       string  `json:"created,omitempty"`
	// CubeDimensions and CubeVariables are the datacube extension's.
	CubeDimensions map[string]CubeDimension `json:"cube:dimensions"`
	CubeVariables  map[string]CubeVariable  `json:"cube:variables,omitempty"`
	// StorageSchemes are the storage extension's (v2) descriptions of the
	// Azure accounts the assets live in, by key (an asset's storage:refs).
	StorageSchemes map[string]StorageScheme `json:"storage:schemes,omitempty"`
}

// StorageScheme is a storage extension (v2) Storage Scheme Object.
type StorageScheme struct {
	// Type is "ms-azure" for Azure Blob Storage.
	Type string `json:"type"`
	// Platform is the endpoint template, with {account} in it.
	Platform string `json:"platform"`
	// Account is the Azure storage account.
	Account string `json:"account,omitempty"`
}

// VirtualHref is a virtual-assets extension link from a virtual asset to
// an asset it reads from.
type VirtualHref struct {
	Key  string `json:"key"`
	Href string `json:"href"`
}

// CubeDimension is a datacube Dimension Object.
type CubeDimension struct {
	// Type: "spatial", "temporal", or another string for other dimensions.
	Type string `json:"type"`
	// Axis: "x", "y" or "z" for spatial dimensions.
	Axis        string `json:"axis,omitempty"`
	Description string `json:"description,omitempty"`
	// Extent: [min, max] numbers, or ISO 8601 strings for time.
	Extent []any `json:"extent,omitempty"`
	// Values lists the coordinate values (numbers or strings).
	Values []any `json:"values,omitempty"`
	// Step: a number (spatial and other dimensions), an ISO 8601 duration
	// (time), or null for irregular spacing; absent when unknown. Build it
	// with NumberStep, DurationStep or IrregularStep.
	Step            json.RawMessage `json:"step,omitempty"`
	Unit            string          `json:"unit,omitempty"`
	ReferenceSystem any             `json:"reference_system,omitempty"`
}

// NumberStep returns a numeric CubeDimension.Step.
func NumberStep(f float64) json.RawMessage {
	b, _ := json.Marshal(f)
	return b
}

// DurationStep returns an ISO 8601 duration CubeDimension.Step.
func DurationStep(d string) json.RawMessage {
	b, _ := json.Marshal(d)
	return b
}

// IrregularStep is the CubeDimension.Step of irregularly spaced values.
var IrregularStep = json.RawMessage("null")

// CubeVariable is a datacube Variable Object.
type CubeVariable struct {
	Dimensions  []string `json:"dimensions"`
	Type        string   `json:"type"` // "data" or "auxiliary"
	Description string   `json:"description,omitempty"`
	Unit        string   `json:"unit,omitempty"`
	// NoData: a number, or "nan", "inf", "-inf".
	NoData any `json:"nodata,omitempty"`
	// DataType: a STAC data type ("float32", ..., "other").
	DataType string `json:"data_type,omitempty"`
	// ZarrChunks is the variable's Zarr chunk shape.
	ZarrChunks []int64 `json:"zarr:chunks,omitempty"`
}

// Link is a STAC Link Object.
type Link struct {
	Rel   string `json:"rel"`
	Href  string `json:"href"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// Asset is a STAC Asset Object with the fields of the xarray-assets and
// zarr extensions.
type Asset struct {
	Href        string   `json:"href"`
	Type        string   `json:"type,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	// OpenKwargs are keyword arguments of xarray.open_dataset that open
	// the asset as it is: xr.open_dataset(**asset["xarray:open_kwargs"]).
	OpenKwargs map[string]any `json:"xarray:open_kwargs,omitempty"`
	// Zarr extension fields of the virtual store.
	ZarrFormat       int    `json:"zarr:zarr_format,omitempty"`
	ZarrConsolidated *bool  `json:"zarr:consolidated,omitempty"`
	ZarrNodeType     string `json:"zarr:node_type,omitempty"`
	// Version is the version extension's version of the asset: for an
	// Icechunk repository, the snapshot id to open (xpystac opens the
	// branch, tag or snapshot it names).
	Version string `json:"version,omitempty"`
	// IcechunkSnapshotID is the Icechunk snapshot the Item describes.
	IcechunkSnapshotID string `json:"icechunk:snapshot_id,omitempty"`
	// IcechunkTag is the tag naming that snapshot (the Release id).
	IcechunkTag string `json:"icechunk:tag,omitempty"`
	// StorageRefs name the Properties.StorageSchemes the asset is in.
	StorageRefs []string `json:"storage:refs,omitempty"`
	// VirtualHrefs link a virtual asset to the assets of its sources.
	VirtualHrefs []VirtualHref `json:"vrt:hrefs,omitempty"`
}
