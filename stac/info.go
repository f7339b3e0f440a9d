package stac

import "time"

// DatasetInfo describes a virtual dataset: everything Build needs besides
// the ids and the location of the reference file. FromReferences fills it
// from a kerchunk reference set; a combine stage may fill it itself.
type DatasetInfo struct {
	// Title and Description come from the global attributes "title" and
	// "summary" (or "description").
	Title       string
	Description string
	// Dimensions in order of first use by the variables.
	Dimensions []Dimension
	// Variables are the data variables and the auxiliary ones
	// (non-dimension coordinates, bounds, grid mappings). Dimension
	// coordinates are described by their Dimension instead.
	Variables []Variable
	// TimeRange is the time span of the data; nil without a time axis.
	TimeRange *TimeRange
	// BBox is the spatial extent in WGS 84 degrees; nil when unknown.
	BBox *BBox
	// RemoteProtocol is the fsspec protocol of the chunk URLs ("abfs",
	// "file", "https", ...); "" when unknown.
	RemoteProtocol string
	// RemoteAccount is the storage account the chunk URLs name, if any.
	RemoteAccount string
	// Consolidated reports whether the references carry consolidated
	// metadata (.zmetadata), as every set vzarr writes does.
	Consolidated bool
	// Warnings say what could not be described (a coordinate that could
	// not be read, a time unit that could not be decoded).
	Warnings []string
}

// TimeRange is a closed time interval, in UTC.
type TimeRange struct {
	Start, End time.Time
}

// BBox is [west, south, east, north] in degrees. West > east means the box
// crosses the antimeridian.
type BBox [4]float64

// Axis is the role of a dimension.
type Axis string

// Axes of dimensions.
const (
	AxisNone Axis = ""
	AxisX    Axis = "x"
	AxisY    Axis = "y"
	AxisZ    Axis = "z"
	AxisT    Axis = "t"
)

// Spacing says whether a dimension's coordinate values are evenly spaced.
type Spacing int

// Spacings.
const (
	// SpacingUnknown: the values were not (all) read.
	SpacingUnknown Spacing = iota
	// SpacingRegular: evenly spaced by Step (or TimeStep).
	SpacingRegular
	// SpacingIrregular: the values are known and not evenly spaced.
	SpacingIrregular
)

// Dimension describes one dimension and its coordinate values.
type Dimension struct {
	Name        string
	Size        int64
	Axis        Axis
	Unit        string
	Description string
	// Extent is [min, max] of numeric coordinate values (in their units;
	// longitudes as stored, 0..360 or -180..180); nil when unknown.
	Extent *[2]float64
	// Spacing tells whether Step (numeric) or TimeStep (time) is known.
	Spacing Spacing
	// Step is the signed spacing of numeric values (negative when they
	// decrease) with SpacingRegular.
	Step float64
	// Values holds all numeric coordinate values when there are few.
	Values []float64
	// Labels holds the values of a string coordinate.
	Labels []string
	// Start and End are the extent of a time dimension (Axis AxisT).
	Start, End *time.Time
	// TimeStep is an ISO 8601 duration ("P1D", "PT6H", "P1M") with
	// SpacingRegular.
	TimeStep string
	// ReferenceSystem of a spatial dimension: an EPSG code (int) or a
	// WKT2 string; nil means EPSG:4326 for longitude/latitude.
	ReferenceSystem any
}

// Variable describes one variable.
type Variable struct {
	Name   string
	Dims   []string
	Shape  []int64
	Chunks []int64
	// DataType is numpy's name of the Zarr dtype ("float32", "int16",
	// "bool", "S8", "datetime64[ns]", ...).
	DataType    string
	Unit        string
	Description string
	// NoData: float64, int64 or uint64, or the string "nan", "inf" or
	// "-inf"; nil when none.
	NoData any
	// Auxiliary marks coordinates, bounds and grid mappings.
	Auxiliary bool
}

// Dimension returns the dimension called name, or nil.
func (d *DatasetInfo) Dimension(name string) *Dimension {
	for i := range d.Dimensions {
		if d.Dimensions[i].Name == name {
			return &d.Dimensions[i]
		}
	}
	return nil
}

// Variable returns the variable called name, or nil.
func (d *DatasetInfo) Variable(name string) *Variable {
	for i := range d.Variables {
		if d.Variables[i].Name == name {
			return &d.Variables[i]
		}
	}
	return nil
}

// DataVariables returns the names of the data (non-auxiliary) variables.
func (d *DatasetInfo) DataVariables() []string {
	var out []string
	for _, v := range d.Variables {
		if !v.Auxiliary {
			out = append(out, v.Name)
		}
	}
	return out
}
