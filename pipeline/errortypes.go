package pipeline

import (
	"errors"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/stac"
	"github.com/greensight/vzarr/validate"
)

// Error types of the sentinel errors below (besides those above).
const (
	ErrTypeLimitExceeded = "limit_exceeded"
	ErrTypeObjectChanged = "object_changed"
)

// sentinelTypes gives every exported sentinel error of the packages the
// stages call its error_type; the first match wins, so more specific
// kinds (a limit, a truncated file) come before the generic ones that may
// wrap them. TestSentinelErrorTypes fails when one of those packages
// exports a sentinel that is not listed here.
var sentinelTypes = []struct {
	err error
	typ string
}{
	{limits.ErrExceeded, ErrTypeLimitExceeded},

	{hdf5meta.ErrTruncated, ErrTypeTruncated},
	{netcdf3.ErrTruncated, ErrTypeTruncated},
	{hdf5meta.ErrFormat, ErrTypeFormat},
	{netcdf3.ErrFormat, ErrTypeFormat},
	{codecs.ErrCorrupt, ErrTypeFormat},
	{hdf5meta.ErrUnsupported, ErrTypeUnsupported},
	{netcdf3.ErrUnsupported, ErrTypeUnsupported},
	{kerchunk.ErrUnsupported, ErrTypeUnsupported},
	{codecs.ErrUnsupported, ErrTypeUnsupported},
	{refread.ErrUnsupported, ErrTypeUnsupported},
	{hdf5meta.ErrNotFound, ErrTypeNotFound},
	{validate.ErrNotNetCDF, ErrTypeNotNetCDF},
	{kerchunk.ErrNotNetCDF, ErrTypeNotNetCDF},

	{combine.ErrIncompatible, ErrTypeIncompatible},
	{combine.ErrInvalid, ErrTypeInvalidParams},

	{kerchunk.ErrBadRefs, ErrTypeInvalidRefs},
	{kerchunk.ErrParquetIsDirectory, ErrTypeInvalidParams},
	{refread.ErrNotFound, ErrTypeInvalidRefs},
	{refread.ErrBadMetadata, ErrTypeInvalidRefs},
	{refread.ErrBadRef, ErrTypeInvalidRefs},
	{stac.ErrReferences, ErrTypeInvalidRefs},
	{stac.ErrInvalid, ErrTypeInvalidMetadata},
	{stac.ErrTimeUnits, ErrTypeInvalidMetadata},

	{catalog.ErrIllegalTransition, ErrTypeIllegalTransition},
	{catalog.ErrConflict, ErrTypeConflict},
	{catalog.ErrNotFound, ErrTypeNotFound},
	{catalog.ErrInvalid, ErrTypeInvalidParams},
	{catalog.ErrUnavailable, ErrTypeCatalogUnavailable},

	{blobio.ErrSourceNotAllowed, ErrTypeSourceNotAllowed},
	{blobio.ErrNotFound, ErrTypeNotFound},
	{blobio.ErrPermission, ErrTypePermission},
	{blobio.ErrUnavailable, ErrTypeUnavailable},
	{blobio.ErrConfig, ErrTypeConfig},
	{blobio.ErrInvalidURL, ErrTypeConfig},
	{blobio.ErrInvalidArgument, ErrTypeInvalidParams},
	{blobio.ErrChanged, ErrTypeObjectChanged},

	{ErrInvalidParams, ErrTypeInvalidParams},
	{ErrInvalidRequest, ErrTypeInvalidParams},
}

// sentinelType returns the error_type of the first sentinel of
// sentinelTypes in err's chain, or "".
func sentinelType(err error) string {
	for _, s := range sentinelTypes {
		if errors.Is(err, s.err) {
			return s.typ
		}
	}
	return ""
}
