package rangeio_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/greensight/vzarr/rangeio"
)

// A Reader turns many small reads into few block-sized requests to a slow
// io.ReaderAt (a blob store), and Prefetch fetches scattered ranges at
// once, so that later reads of them cost no request.
func ExampleReader() {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	src := rangeio.NewCountingReaderAt(bytes.NewReader(data))
	r := rangeio.NewReader(src, int64(len(data)), rangeio.WithFirstRead(0), rangeio.WithBlockSize(64<<10))

	// 1000 reads of 16 bytes in the first 16000 bytes: one block request.
	p := make([]byte, 16)
	for off := int64(0); off < 16000; off += 16 {
		if _, err := r.ReadAt(p, off); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%s %+v\n", p, r.Stats())

	// Three scattered ranges fetched ahead, then read.
	ranges := []rangeio.Range{{Off: 300_000, Len: 100}, {Off: 600_000, Len: 100}, {Off: 900_000, Len: 100}}
	if err := r.Prefetch(context.Background(), ranges); err != nil {
		log.Fatal(err)
	}
	before := r.Stats().Requests
	for _, rg := range ranges {
		if _, err := r.ReadAt(p, rg.Off); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("requests after the prefetch:", before, "after the reads:", r.Stats().Requests)
	// Output:
	// 0123456789abcdef {Requests:1 Bytes:65536}
	// requests after the prefetch: 4 after the reads: 4
}
