package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/stac"
	"github.com/greensight/vzarr/validate"
)

// sentinelPackages are the packages whose exported sentinel errors must
// all have an error_type (directories relative to this one).
var sentinelPackages = []string{"hdf5meta", "netcdf3", "kerchunk", "kerchunk/codecs", "refread", "refstore", "combine", "icechunk",
	"stac", "blobio", "catalog", "limits", "validate", "pipeline"}

// sentinels lists every exported sentinel error of sentinelPackages, by
// "<dir>.<name>", with its error_type.
var sentinels = map[string]struct {
	err error
	typ string
}{
	"hdf5meta.ErrFormat":             {hdf5meta.ErrFormat, "format_error"},
	"hdf5meta.ErrTruncated":          {hdf5meta.ErrTruncated, "truncated_file"},
	"hdf5meta.ErrUnsupported":        {hdf5meta.ErrUnsupported, "unsupported_feature"},
	"hdf5meta.ErrNotFound":           {hdf5meta.ErrNotFound, "not_found"},
	"netcdf3.ErrFormat":              {netcdf3.ErrFormat, "format_error"},
	"netcdf3.ErrTruncated":           {netcdf3.ErrTruncated, "truncated_file"},
	"netcdf3.ErrUnsupported":         {netcdf3.ErrUnsupported, "unsupported_feature"},
	"kerchunk.ErrBadRefs":            {kerchunk.ErrBadRefs, "invalid_references"},
	"kerchunk.ErrExternalPath":       {kerchunk.ErrExternalPath, "source_not_allowed"},
	"kerchunk.ErrParquetIsDirectory": {kerchunk.ErrParquetIsDirectory, "invalid_params"},
	"kerchunk.ErrUnsupported":        {kerchunk.ErrUnsupported, "unsupported_feature"},
	"kerchunk.ErrNotNetCDF":          {kerchunk.ErrNotNetCDF, "not_netcdf"},
	"kerchunk/codecs.ErrCorrupt":     {codecs.ErrCorrupt, "format_error"},
	"kerchunk/codecs.ErrUnsupported": {codecs.ErrUnsupported, "unsupported_feature"},
	"refread.ErrNotFound":            {refread.ErrNotFound, "invalid_references"},
	"refread.ErrBadMetadata":         {refread.ErrBadMetadata, "invalid_references"},
	"refread.ErrBadRef":              {refread.ErrBadRef, "invalid_references"},
	"refread.ErrUnsupported":         {refread.ErrUnsupported, "unsupported_feature"},
	"refstore.ErrFormat":             {refstore.ErrFormat, "invalid_params"},
	"combine.ErrIncompatible":        {combine.ErrIncompatible, "incompatible_inputs"},
	"combine.ErrInvalid":             {combine.ErrInvalid, "invalid_params"},
	"stac.ErrInvalid":                {stac.ErrInvalid, "invalid_metadata"},
	"icechunk.ErrInvalidID":          {icechunk.ErrInvalidID, "invalid_references"},
	"icechunk.ErrHeader":             {icechunk.ErrHeader, "invalid_references"},
	"icechunk.ErrCorrupt":            {icechunk.ErrCorrupt, "invalid_references"},
	"icechunk.ErrIncomplete":         {icechunk.ErrIncomplete, "incompatible_inputs"},
	"icechunk.ErrConflict":           {icechunk.ErrConflict, "conflict"},
	"icechunk.ErrTagExists":          {icechunk.ErrTagExists, "conflict"},
	"icechunk.ErrNoRef":              {icechunk.ErrNoRef, "not_found"},
	"icechunk.ErrNoNode":             {icechunk.ErrNoNode, "not_found"},
	"icechunk.ErrNoChunk":            {icechunk.ErrNoChunk, "not_found"},
	"icechunk.ErrInvalidArgument":    {icechunk.ErrInvalidArgument, "invalid_params"},
	"stac.ErrTimeUnits":              {stac.ErrTimeUnits, "invalid_metadata"},
	"stac.ErrReferences":             {stac.ErrReferences, "invalid_references"},
	"blobio.ErrInvalidURL":           {blobio.ErrInvalidURL, "configuration_error"},
	"blobio.ErrInvalidArgument":      {blobio.ErrInvalidArgument, "invalid_params"},
	"blobio.ErrConfig":               {blobio.ErrConfig, "configuration_error"},
	"blobio.ErrNotFound":             {blobio.ErrNotFound, "not_found"},
	"blobio.ErrPermission":           {blobio.ErrPermission, "permission_denied"},
	"blobio.ErrSourceNotAllowed":     {blobio.ErrSourceNotAllowed, "source_not_allowed"},
	"blobio.ErrRedirect":             {blobio.ErrRedirect, "source_not_allowed"},
	"blobio.ErrUnavailable":          {blobio.ErrUnavailable, "storage_unavailable"},
	"blobio.ErrChanged":              {blobio.ErrChanged, "object_changed"},
	"blobio.ErrPrecondition":         {blobio.ErrPrecondition, "conflict"},
	"blobio.ErrUnsupported":          {blobio.ErrUnsupported, "unsupported_feature"},
	"catalog.ErrNotFound":            {catalog.ErrNotFound, "not_found"},
	"catalog.ErrUnavailable":         {catalog.ErrUnavailable, "catalog_unavailable"},
	"catalog.ErrIllegalTransition":   {catalog.ErrIllegalTransition, "illegal_transition"},
	"catalog.ErrConflict":            {catalog.ErrConflict, "conflict"},
	"catalog.ErrInvalid":             {catalog.ErrInvalid, "invalid_params"},
	"limits.ErrExceeded":             {limits.ErrExceeded, "limit_exceeded"},
	"validate.ErrNotNetCDF":          {validate.ErrNotNetCDF, "not_netcdf"},
	"pipeline.ErrInvalidParams":      {pipeline.ErrInvalidParams, "invalid_params"},
	"pipeline.ErrInvalidRequest":     {pipeline.ErrInvalidRequest, "invalid_params"},
}

// exportedSentinels parses the non-test Go files of dir and returns the
// names of its exported package-level variables named Err*.
func exportedSentinels(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if id.IsExported() && strings.HasPrefix(id.Name, "Err") {
						names = append(names, id.Name)
					}
				}
			}
		}
	}
	return names
}

// TestSentinelErrorTypes: every exported sentinel error of the packages
// the stages call has a specific error_type (none is internal_error), and
// a new sentinel that is not in the table fails the test.
func TestSentinelErrorTypes(t *testing.T) {
	var found []string
	for _, pkg := range sentinelPackages {
		for _, name := range exportedSentinels(t, filepath.Join("..", filepath.FromSlash(pkg))) {
			found = append(found, pkg+"."+name)
		}
	}
	var listed []string
	for k := range sentinels {
		listed = append(listed, k)
	}
	sort.Strings(found)
	sort.Strings(listed)
	assert.Equal(t, listed, found, "every exported Err* variable needs an error_type in pipeline's sentinelTypes and an entry here")
	require.Greater(t, len(found), 30)

	for name, s := range sentinels {
		t.Run(name, func(t *testing.T) {
			wrapped := fmt.Errorf("stage: file x: %w", s.err)
			got := pipeline.ErrorType(wrapped)
			assert.NotEqual(t, pipeline.ErrTypeInternal, got)
			assert.Equal(t, s.typ, got)
			assert.Equal(t, s.typ, pipeline.Fail(wrapped).ErrorType)
		})
	}
}

// TestErrorTypePrecedence: an explicit StageError wins over the sentinels
// in its chain; the caller's context gives timeout or canceled, also
// through a storage error; an unknown error is internal.
func TestErrorTypePrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"stage error", &pipeline.StageError{Type: pipeline.ErrTypeValidation, Err: fmt.Errorf("x: %w", hdf5meta.ErrFormat)}, pipeline.ErrTypeValidation},
		{"deadline", fmt.Errorf("ref: %w", context.DeadlineExceeded), pipeline.ErrTypeTimeout},
		{"canceled storage", &blobio.Error{Op: "read", Kind: blobio.ErrUnavailable, Err: context.Canceled}, pipeline.ErrTypeCanceled},
		{"limit inside incompatible", fmt.Errorf("%w: %w", combine.ErrIncompatible, limits.ErrExceeded), pipeline.ErrTypeLimitExceeded},
		{"unknown", errors.New("boom"), pipeline.ErrTypeInternal},
		{"nil", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pipeline.ErrorType(tc.err))
		})
	}
}

// TestLimitErrorType: a *limits.Error, however wrapped, is limit_exceeded.
func TestLimitErrorType(t *testing.T) {
	err := limits.CheckVar(limits.CoordElements, "a.nc", "time", 1<<40, 50_000_000)
	require.Error(t, err)
	for _, e := range []error{err, fmt.Errorf("combine: %w", err), fmt.Errorf("combine: %w", fmt.Errorf("%w: %w", combine.ErrIncompatible, err))} {
		assert.Equal(t, pipeline.ErrTypeLimitExceeded, pipeline.ErrorType(e), e.Error())
	}
}

// TestOneErrorVocabulary: no Go file of the module but this package's
// errortypes.go (and engine's, whose two types it re-exports) spells an
// error_type of the table as a string literal: the commands, the
// orchestrator and the stages all name them through the ErrType*
// constants, so that there is one vocabulary.
func TestOneErrorVocabulary(t *testing.T) {
	vocab := map[string]bool{pipeline.ErrTypeUsage: true, pipeline.ErrTypeOutputExists: true, pipeline.ErrTypeInternal: true}
	for _, s := range sentinels {
		vocab[s.typ] = true
	}
	allowed := map[string]bool{filepath.Join("pipeline", "errortypes.go"): true, filepath.Join("engine", "engine.go"): true}
	root := ".."
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if allowed[rel] {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && vocab[strings.Trim(lit.Value, "`\"")] {
				t.Errorf("%s: the error_type %s is spelled out; use the pipeline.ErrType* constant", rel, lit.Value)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
}
