package netcdf4_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/netcdf4"
)

// openView opens an HDF5 file (gzip-compressed when it ends in .gz) and
// builds its view.
func openView(t testing.TB, p string) *netcdf4.File {
	t.Helper()
	data := readFixture(t, p)
	f, err := hdf5meta.Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	v, err := netcdf4.New(context.Background(), f)
	require.NoError(t, err)
	return v
}

func readFixture(t testing.TB, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		data, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	return data
}

// hdf5Files returns the HDF5 files of the repository's test data and,
// when it exists, ../shared/realworld (netCDF-3 files left out).
func hdf5Files(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{
		"../testdata/hdf5/*.h5", "../testdata/hdf5/*.nc", "../testdata/hdf5/*.h5.gz",
		"../kerchunk/testdata/*.h5", "../kerchunk/testdata/*.nc",
		"../testdata/sample/*.nc", "../testdata/series/*/*.nc",
		"../../shared/realworld/*.nc",
	} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		for _, p := range m {
			if isHDF5(t, p) {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	require.NotEmpty(t, out)
	return out
}

func isHDF5(t testing.TB, p string) bool {
	if strings.HasSuffix(p, ".gz") {
		return true
	}
	fh, err := os.Open(p)
	require.NoError(t, err)
	defer fh.Close()
	var head [8]byte
	_, _ = io.ReadFull(fh, head[:])
	return string(head[:]) == "\x89HDF\r\n\x1a\n"
}
