package azure

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
)

// requestLog records the requests a test server received.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// TestRedirectNotFollowed: a storage endpoint answering 302 (or 307) to
// another host gets the operation refused with blobio.ErrRedirect, once
// (no retries); the other host never receives a request, so neither the
// SharedKey Authorization header nor the SAS query reaches it.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere requestLog
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.add(r)
		w.WriteHeader(http.StatusOK)
	}))
	defer target.Close()

	const sas = "sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=c2VjcmV0"
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusMovedPermanently} {
		var storage requestLog
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			storage.add(r)
			w.Header().Set("Location", target.URL+r.URL.RequestURI())
			w.WriteHeader(status)
		}))
		for _, cred := range []struct {
			name, conn string
		}{
			{"shared key", devstoreConn(redirector.URL)},
			{"sas", "BlobEndpoint=" + redirector.URL + "/devstoreaccount1;SharedAccessSignature=" + sas},
		} {
			o := &blobio.Opener{ConnectionString: cred.conn, Retry: blobio.RetryOptions{MaxRetries: 3}}
			useDriver(t, &driver{})
			ctx := context.Background()
			for _, op := range []struct {
				name string
				do   func() error
			}{
				{"open object", func() error { _, err := o.OpenObject(ctx, "abfs://cnt/x.nc"); return err }},
				{"scan", func() error { _, err := o.Scan(ctx, "abfs://cnt/dir/", blobio.ScanOptions{}); return err }},
				{"write", func() error {
					return o.WriteAtomic(ctx, "abfs://cnt/out.json", func(w io.Writer) error { _, err := io.WriteString(w, "{}"); return err })
				}},
				{"conditional put", func() error {
					objs, err := o.OpenObjects(ctx, "abfs://cnt/repo")
					if err != nil {
						return err
					}
					defer objs.Close()
					_, err = objs.Put(ctx, "ref.json", []byte("{}"), blobio.Condition{IfNoneMatch: true})
					return err
				}},
			} {
				t.Run(http.StatusText(status)+"/"+cred.name+"/"+op.name, func(t *testing.T) {
					before := storage.count()
					err := op.do()
					require.Error(t, err)
					assert.ErrorIs(t, err, blobio.ErrRedirect)
					var be *blobio.Error
					assert.ErrorAs(t, err, &be)
					assert.NotContains(t, err.Error(), "sig=", "no SAS in the message")
					assert.Equal(t, 1, storage.count()-before, "one request, not retried")
					assert.Zero(t, elsewhere.count(), "the redirect target received nothing")
				})
			}
		}
		redirector.Close()
	}
}
