package kerchunk

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
)

// Test helpers for the external tests of this directory (verify_test.go,
// which reads references through refread).
var (
	InteropInputs = interopInputs
	TranslateFile = translateFile
	LocalFetch    = localFetch
)

// localFetch reads byte ranges of local files (absolute paths or file://).
func localFetch(_ context.Context, url string, off, n int64) ([]byte, error) {
	f, err := os.Open(strings.TrimPrefix(url, "file://"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if n < 0 {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		n = st.Size() - off
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}
