package netcdf4_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/netcdf4"
)

// openView opens an HDF5 file (gzip-compressed when it ends in .gz) and
// builds its view.
func openView(t testing.TB, p string) *netcdf4.File {
	t.Helper()
	data := testenv.ReadFixture(t, p)
	f, err := hdf5meta.Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	v, err := netcdf4.New(context.Background(), f)
	require.NoError(t, err)
	return v
}

// hdf5Files returns the HDF5 files among testenv.SourceFiles.
func hdf5Files(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, p := range testenv.SourceFiles(t, "..") {
		if isHDF5(t, p) {
			out = append(out, p)
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
