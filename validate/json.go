package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// WriteJSON writes the report as one line of JSON, without a trailing
// newline: byte for byte what a json.Encoder with SetEscapeHTML(false)
// writes for it (less the newline). The chunk lists, which can hold
// millions of entries, are written entry by entry by a small hand-written
// encoder, through a 64 KiB buffer: no reflection per chunk and no copy
// of the whole output in memory (a listing of 100,000 chunks is about
// 6 MB). A report built with Options.StreamChunks has its chunks read
// again from the file as they are written; the file must then still be
// readable.
func (r *Report) WriteJSON(w io.Writer) error {
	head := *r
	head.Datasets = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&head); err != nil {
		return err
	}
	b, ok := bytes.CutSuffix(buf.Bytes(), []byte("}\n"))
	if !ok {
		return fmt.Errorf("validate: report encoded as %.20q", buf.Bytes())
	}
	jw := &jsonWriter{w: w, b: make([]byte, 0, 64<<10)}
	jw.b = append(jw.b, b...)
	if len(r.Datasets) > 0 { // omitempty
		jw.b = append(jw.b, `,"datasets":{`...)
		for i, k := range slices.Sorted(maps.Keys(r.Datasets)) {
			if i > 0 {
				jw.b = append(jw.b, ',')
			}
			jw.b = appendJSONString(jw.b, k)
			jw.b = append(jw.b, ':')
			jw.storage(r.Datasets[k])
		}
		jw.b = append(jw.b, '}')
	}
	jw.b = append(jw.b, '}')
	return jw.flush()
}

// jsonWriter appends JSON to b and hands it to w when b is nearly full,
// keeping the first write error.
type jsonWriter struct {
	w   io.Writer
	b   []byte
	err error
}

// flush writes out what b holds.
func (jw *jsonWriter) flush() error {
	if jw.err == nil && len(jw.b) > 0 {
		_, jw.err = jw.w.Write(jw.b)
	}
	jw.b = jw.b[:0]
	return jw.err
}

// fail keeps err as the writer's error unless it has one.
func (jw *jsonWriter) fail(err error) {
	if jw.err == nil {
		jw.err = err
	}
}

// storage appends one dataset's storage, as encoding/json encodes a
// *DatasetStorage.
func (jw *jsonWriter) storage(st *DatasetStorage) {
	if st == nil {
		jw.b = append(jw.b, "null"...)
		return
	}
	jw.b = append(jw.b, `{"layout":`...)
	jw.b = appendJSONString(jw.b, st.Layout)
	if st.Addr != nil {
		jw.b = append(jw.b, `,"addr":`...)
		jw.b = strconv.AppendInt(jw.b, *st.Addr, 10)
	}
	if st.Size != nil {
		jw.b = append(jw.b, `,"size":`...)
		jw.b = strconv.AppendUint(jw.b, *st.Size, 10)
	}
	if len(st.ChunkList) > 0 || st.numChunks > 0 { // omitempty
		jw.b = append(jw.b, `,"chunk_list":[`...)
		i := 0
		chunk := func(c ChunkInfo) error {
			if i > 0 {
				jw.b = append(jw.b, ',')
			}
			i++
			jw.b = c.appendJSON(jw.b)
			if len(jw.b) > cap(jw.b)-1024 {
				return jw.flush()
			}
			return nil
		}
		if st.walk == nil {
			for k := range st.ChunkList {
				if chunk(st.ChunkList[k]) != nil {
					return
				}
			}
		} else if err := st.stream(chunk); err != nil {
			jw.fail(err)
			return
		}
		jw.b = append(jw.b, ']')
	}
	jw.b = append(jw.b, '}')
}

// errListed ends a walk of a streamed listing at its last chunk.
var errListed = errors.New("validate: listing complete")

// stream hands fn the numChunks chunks of a streamed listing, read again
// from the file. The report states any error met after them (a
// "chunk_index" error); one met before them (storage failing in between)
// is returned.
func (st *DatasetStorage) stream(fn func(ChunkInfo) error) error {
	i := 0
	err := st.walk(func(c ChunkInfo) error {
		if i == st.numChunks {
			return errListed
		}
		i++
		return fn(c)
	})
	if i == st.numChunks {
		return nil // a write error stays in the jsonWriter
	}
	if err == nil {
		err = fmt.Errorf("validate: chunk index read again: %d chunks, not %d", i, st.numChunks)
	}
	return err
}

// appendJSON appends the chunk as encoding/json encodes a ChunkInfo.
func (c ChunkInfo) appendJSON(b []byte) []byte {
	b = append(b, `{"offset":`...)
	if c.Offset == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, o := range c.Offset {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, o, 10)
		}
		b = append(b, ']')
	}
	b = append(b, `,"addr":`...)
	b = strconv.AppendInt(b, c.Addr, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, `,"filter_mask":`...)
	b = strconv.AppendUint(b, uint64(c.FilterMask), 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, as encoding/json writes it
// with HTML escaping off: printable ASCII other than '"' and '\\' as is,
// anything else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
