package pipeline

import (
	"context"
	"errors"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/stac"
	"github.com/greensight/vzarr/validate"
)

// The error_type vocabulary of failure envelopes: the one list, for the
// stages, the job failures and the vzarr command alike.
const (
	// ErrTypeInvalidParams: the request or parameters break the contract.
	ErrTypeInvalidParams = "invalid_params"
	// ErrTypeUsage: bad command-line arguments (the vzarr command).
	ErrTypeUsage = "usage_error"
	// ErrTypeOutputExists: the output holds another run's result (vzarr
	// run without --overwrite).
	ErrTypeOutputExists = "output_exists"
	// ErrTypeNotFound: the file, object, record or directory does not exist.
	ErrTypeNotFound          = "not_found"
	ErrTypeIllegalTransition = "illegal_transition"
	ErrTypeConflict          = "conflict"
	ErrTypeReleaseMismatch   = "release_mismatch"
	ErrTypeInvalidRefs       = "invalid_references"
	ErrTypeInvalidMetadata   = "invalid_metadata"
	ErrTypePermission        = "permission_denied"
	ErrTypeUnavailable       = "storage_unavailable"
	ErrTypeConfig            = "configuration_error"
	ErrTypeSourceNotAllowed  = "source_not_allowed"
	ErrTypeTimeout           = engine.ErrTypeTimeout // also a stage past engine.Options.StageDeadline
	ErrTypeWorkerLost        = engine.ErrTypeWorkerLost
	ErrTypeCanceled          = "canceled"
	ErrTypeInternal          = "internal_error"
	// ErrTypeCatalogUnavailable: the catalog database cannot be reached.
	ErrTypeCatalogUnavailable = "catalog_unavailable"
	ErrTypeLimitExceeded      = "limit_exceeded"
	ErrTypeObjectChanged      = "object_changed"

	// Error types of the file-reading stages.
	ErrTypeValidation   = "validation_failed"
	ErrTypeFormat       = "format_error"
	ErrTypeTruncated    = "truncated_file"
	ErrTypeUnsupported  = "unsupported_feature"
	ErrTypeNotNetCDF    = "not_netcdf"
	ErrTypeIncompatible = "incompatible_inputs"
	ErrTypeNoFiles      = "no_files"
)

// sentinelTypes is the one table from sentinel errors to error_type:
// every exported sentinel error of the packages the stages and the
// command call. The first match wins, so more specific kinds (a limit, a
// truncated file) come before the generic ones that may wrap them.
// TestSentinelErrorTypes fails when one of those packages exports a
// sentinel that is not listed here.
var sentinelTypes = []struct {
	err error
	typ string
}{
	{limits.ErrExceeded, ErrTypeLimitExceeded},
	{ErrInvalidParams, ErrTypeInvalidParams},
	{ErrInvalidRequest, ErrTypeInvalidParams},

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
	{refstore.ErrFormat, ErrTypeInvalidParams},
	{stac.ErrReferences, ErrTypeInvalidRefs},
	{stac.ErrInvalid, ErrTypeInvalidMetadata},
	{stac.ErrTimeUnits, ErrTypeInvalidMetadata},
	{icechunk.ErrInvalidID, ErrTypeInvalidRefs},
	{icechunk.ErrHeader, ErrTypeInvalidRefs},
	{icechunk.ErrCorrupt, ErrTypeInvalidRefs},
	{icechunk.ErrIncomplete, ErrTypeIncompatible},
	{icechunk.ErrConflict, ErrTypeConflict},
	{icechunk.ErrTagExists, ErrTypeConflict},
	{icechunk.ErrNoRef, ErrTypeNotFound},
	{icechunk.ErrNoNode, ErrTypeNotFound},
	{icechunk.ErrNoChunk, ErrTypeNotFound},
	{icechunk.ErrInvalidArgument, ErrTypeInvalidParams},

	// The caller's context, before the storage kinds that may wrap it.
	{context.DeadlineExceeded, ErrTypeTimeout},
	{context.Canceled, ErrTypeCanceled},

	{catalog.ErrIllegalTransition, ErrTypeIllegalTransition},
	{catalog.ErrConflict, ErrTypeConflict},
	{catalog.ErrNotFound, ErrTypeNotFound},
	{catalog.ErrInvalid, ErrTypeInvalidParams},
	{catalog.ErrUnavailable, ErrTypeCatalogUnavailable},

	{blobio.ErrSourceNotAllowed, ErrTypeSourceNotAllowed},
	{blobio.ErrRedirect, ErrTypeSourceNotAllowed},
	{kerchunk.ErrExternalPath, ErrTypeSourceNotAllowed},
	{blobio.ErrNotFound, ErrTypeNotFound},
	{blobio.ErrPermission, ErrTypePermission},
	{blobio.ErrUnavailable, ErrTypeUnavailable},
	{blobio.ErrConfig, ErrTypeConfig},
	{blobio.ErrInvalidURL, ErrTypeConfig},
	{blobio.ErrInvalidArgument, ErrTypeInvalidParams},
	{blobio.ErrChanged, ErrTypeObjectChanged},
	{blobio.ErrPrecondition, ErrTypeConflict},
	{blobio.ErrUnsupported, ErrTypeUnsupported},
}

// ErrorType classifies an error for the envelope's error_type: the Type of
// the first *StageError in its chain, else the type of the first sentinel
// of the table found in its chain, else ErrTypeInternal.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	var se *StageError
	if errors.As(err, &se) {
		return se.Type
	}
	for _, s := range sentinelTypes {
		if errors.Is(err, s.err) {
			return s.typ
		}
	}
	return ErrTypeInternal
}
