#!/usr/bin/python3
"""The project's own reference checker: do kerchunk references read back,
through fsspec's reference:// filesystem and xarray's zarr engine, what
xarray reads from the original file?

    refcheck.py --orig FILE --refs REFS.json [--engine E] [--group G ...] [-v]
    refcheck.py --corpus DIR --map MAP.json [-v]      (DIR/cases.json as below)

cases.json: {"cases": [{"name", "file", "engine", "format", "groups"}]}.
Prints "PASS name" or "FAIL name: first error", error lines with -v, then
"N passed, M failed". Exit status 0 only when every case passed.

Two levels: xarray (variables, dimension sizes, coordinates, decoded dtypes,
values NaN-aware, attributes without HDF5/netCDF bookkeeping), and raw zarr
arrays against h5py (HDF5) or netCDF4-python with auto scaling off
(netCDF-3). Used by kerchunk/interop_test.go when ../shared/tools is absent.
"""
import argparse
import json
import math
import sys
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

import fsspec  # noqa: E402
import numcodecs  # noqa: E402
import xarray as xr  # noqa: E402
import zarr  # noqa: E402
from numcodecs.abc import Codec  # noqa: E402

HIDDEN = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid",
          "_Netcdf4Coordinates", "_NCProperties", "_nc3_strict", "_ARRAY_DIMENSIONS"}


# --------------------------------------------------------------- codecs

def _fletcher32(b):
    words = np.frombuffer(b[: len(b) // 2 * 2], ">u2").astype(np.uint64)
    s1 = s2 = 0
    for start in range(0, len(words), 360):
        for w in words[start:start + 360].tolist():
            s1 += w
            s2 += s1
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    if len(b) % 2:
        s1 += b[-1] << 8
        s2 += s1
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    s1 = (s1 & 0xFFFF) + (s1 >> 16)
    s2 = (s2 & 0xFFFF) + (s2 >> 16)
    return (s2 << 16) | s1


class Fletcher32(Codec):
    codec_id = "fletcher32"

    def encode(self, buf):
        raise NotImplementedError

    def decode(self, buf, out=None):
        b = bytes(buf)
        body, stored = b[:-4], int.from_bytes(b[-4:], "little")
        want = _fletcher32(body)
        if stored not in (want, ((want & 0xFFFF) << 16) | (want >> 16)):
            raise RuntimeError("fletcher32 checksum mismatch")
        return body


class Lzf(Codec):
    codec_id = "imagecodecs_lzf"

    def __init__(self, header=False, **_):
        self.header = header

    def encode(self, buf):
        raise NotImplementedError

    def decode(self, buf, out=None):
        src = bytes(buf)[4 if self.header else 0:]
        out, i = bytearray(), 0
        while i < len(src):
            c = src[i]
            i += 1
            if c < 32:
                out += src[i:i + c + 1]
                i += c + 1
                continue
            n = c >> 5
            if n == 7:
                n += src[i]
                i += 1
            ref = len(out) - ((c & 31) << 8) - 1 - src[i]
            i += 1
            for _ in range(n + 2):
                out.append(out[ref])
                ref += 1
        return bytes(out)


for codec in (Fletcher32, Lzf):
    try:
        numcodecs.get_codec({"id": codec.codec_id})
    except Exception:
        numcodecs.register_codec(codec)


def _tolerate_missing_keys():
    """fsspec 2022.11 raises KeyError for chunk keys without a reference
    instead of FileNotFoundError, which zarr needs to use fill_value."""
    from fsspec.implementations.reference import ReferenceFileSystem
    if getattr(ReferenceFileSystem, "_refcheck", False):
        return
    cat = ReferenceFileSystem.cat

    def patched(self, path, recursive=False, on_error="raise", **kw):
        paths = [path] if isinstance(path, str) else list(path)
        have = [p for p in paths if self._strip_protocol(p) in self.references]
        gone = [p for p in paths if p not in have]
        if isinstance(path, str):
            if gone:
                raise FileNotFoundError(path)
            return cat(self, path, recursive=recursive, on_error=on_error, **kw)
        if gone and on_error == "raise":
            raise FileNotFoundError(gone[0])
        got = cat(self, have, recursive=recursive, on_error=on_error, **kw) if have else {}
        if isinstance(got, bytes):
            got = {have[0]: got}
        if on_error == "return":
            got.update({p: FileNotFoundError(p) for p in gone})
        return got

    ReferenceFileSystem.cat = patched
    ReferenceFileSystem._refcheck = True


_tolerate_missing_keys()


# --------------------------------------------------------------- comparison

def plain(v):
    """An attribute value as plain Python: str, number, or list of them."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        items = [plain(x) for x in v.ravel().tolist()]
        return items[0] if len(items) == 1 else items
    if isinstance(v, (list, tuple)):
        items = [plain(x) for x in v]
        return items[0] if len(items) == 1 else items
    if isinstance(v, np.generic):
        return v.item()
    return v


def same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def values_differ(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if a.size == 0:
        return None
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        fa = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in a.ravel()]
        fb = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in b.ravel()]
        bad = [i for i, (x, y) in enumerate(zip(fa, fb))
               if not (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y)]
        return f"{len(bad)} of {a.size} values differ at {bad[0]}" if bad else None
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        with np.errstate(invalid="ignore"):
            eq = (a == b) | (np.isnan(a) & np.isnan(b))
    elif a.dtype.kind in "mM":
        eq = (a == b) | (np.isnat(a) & np.isnat(b))
    else:
        eq = np.asarray(a == b)
    if eq.shape != a.shape:
        return f"values not comparable ({a.dtype} vs {b.dtype})"
    if eq.all():
        return None
    at = tuple(int(i) for i in np.argwhere(~eq)[0])
    return f"{int((~eq).sum())} of {a.size} values differ, first at {at}: {a[at]!r} vs {b[at]!r}"


def compare_attrs(errors, where, oa, ra):
    for k in sorted(set(oa) | set(ra)):
        if k in HIDDEN or k not in oa:
            continue
        if k not in ra:
            errors.append(f"{where}: attribute {k!r} missing")
        elif not same(plain(oa[k]), plain(ra[k])):
            errors.append(f"{where}: attribute {k!r} differs: {plain(oa[k])!r} vs {plain(ra[k])!r}")


def compare_xr(errors, orig, refs, engine, group):
    where = group or "/"
    try:
        kw = {"phony_dims": "sort"} if engine == "h5netcdf" else {}
        o = xr.open_dataset(orig, engine=engine, group=group or None, **kw)
    except Exception as e:
        errors.append(f"xr: cannot open original (group {group!r}): {type(e).__name__}: {e}")
        return
    try:
        r = xr.open_dataset("reference://", engine="zarr", group=group or None,
                            backend_kwargs={"storage_options": {"fo": refs, "remote_protocol": "file"}})
    except Exception as e:
        errors.append(f"xr: cannot open refs (group {group!r}): {type(e).__name__}: {e}")
        o.close()
        return
    with o, r:
        for v in sorted(set(o.variables) - set(r.variables)):
            errors.append(f"{where}: variable {v!r} missing from refs")
        for v in sorted(set(r.variables) - set(o.variables)):
            errors.append(f"{where}: extra variable {v!r} in refs")
        real_o = {k: v for k, v in o.sizes.items() if not str(k).startswith("phony_dim_")}
        real_r = {k: v for k, v in r.sizes.items() if not str(k).startswith("phony_dim_")}
        if real_o != real_r:
            errors.append(f"{where}: dims differ: {dict(o.sizes)} vs {dict(r.sizes)}")
        if set(o.coords) != set(r.coords):
            errors.append(f"{where}: coordinates differ: {sorted(o.coords)} vs {sorted(r.coords)}")
        compare_attrs(errors, f"{where} (global)", o.attrs, r.attrs)
        for name in sorted(set(o.variables) & set(r.variables)):
            ov, rv = o.variables[name], r.variables[name]
            named = [(x, y) for x, y in zip(ov.dims, rv.dims)
                     if not (str(x).startswith("phony_dim_") and str(y).startswith("phony_dim_"))]
            if len(ov.dims) != len(rv.dims) or any(x != y for x, y in named):
                errors.append(f"{where}:{name}: dims {ov.dims} vs {rv.dims}")
            if ov.dtype != rv.dtype:
                errors.append(f"{where}:{name}: decoded dtype {ov.dtype} vs {rv.dtype}")
            try:
                a = ov.values
            except Exception as e:
                errors.append(f"{where}:{name}: cannot read original: {type(e).__name__}: {e}")
                continue
            try:
                b = rv.values
            except Exception as e:
                errors.append(f"{where}:{name}: cannot read refs: {type(e).__name__}: {e}")
                continue
            d = values_differ(a, b)
            if d:
                errors.append(f"{where}:{name}: {d}")
            compare_attrs(errors, f"{where}:{name}", ov.attrs, rv.attrs)


def compare_raw(errors, orig, refs, fmt):
    mapper = fsspec.filesystem("reference", fo=refs, remote_protocol="file").get_mapper("")
    arrays = {}

    def collect(g, prefix=""):
        for n, a in g.arrays():
            arrays[prefix + n] = a
        for n, sub in g.groups():
            collect(sub, prefix + n + "/")
    try:
        collect(zarr.open_group(mapper, mode="r"))
    except Exception as e:
        errors.append(f"raw: cannot open refs with zarr: {type(e).__name__}: {e}")
        return
    if fmt.startswith("netcdf3"):
        import netCDF4
        ds = netCDF4.Dataset(orig)
        ds.set_auto_maskandscale(False)
        ds.set_auto_chartostring(False)
        sources = {n: (lambda v=v: np.asarray(v[...])) for n, v in ds.variables.items()}
    else:
        import h5py
        ds = h5py.File(orig, "r")
        sources = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                nm = obj.attrs.get("NAME")
                if isinstance(nm, bytes) and nm.startswith(b"This is a netCDF dimension but not"):
                    return
                sources[name] = lambda obj=obj: obj[()]
        ds.visititems(visit)
    try:
        for name in sorted(sources):
            if name not in arrays:
                errors.append(f"raw:{name}: array missing from refs")
                continue
            try:
                a = sources[name]()
            except Exception:
                continue  # the original cannot be read here
            try:
                b = arrays[name][...]
            except Exception as e:
                errors.append(f"raw:{name}: zarr read failed: {type(e).__name__}: {e}")
                continue
            d = values_differ(a, b)
            if d:
                errors.append(f"raw:{name}: {d}")
    finally:
        ds.close()


def check(name, orig, refs_path, engine, fmt, groups):
    start = time.perf_counter()
    with open(refs_path) as fh:
        refs = json.load(fh)
    errors = []
    for g in groups or [""]:
        compare_xr(errors, orig, refs, engine, g)
    compare_raw(errors, orig, refs, fmt)
    return name, errors, time.perf_counter() - start


def guess(orig):
    with open(orig, "rb") as fh:
        head = fh.read(4)
    if head[:3] == b"CDF":
        return "netcdf4", {1: "netcdf3_classic", 2: "netcdf3_64bit_offset", 5: "netcdf3_64bit_data"}.get(head[3], "netcdf3")
    import h5py
    with h5py.File(orig, "r") as f:
        nc = "_NCProperties" in f.attrs
    return ("netcdf4" if nc else "h5netcdf"), "hdf5"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orig")
    ap.add_argument("--refs")
    ap.add_argument("--engine")
    ap.add_argument("--group", action="append")
    ap.add_argument("--corpus")
    ap.add_argument("--map")
    ap.add_argument("--json-out")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    results = []
    if a.corpus:
        with open(a.corpus + "/cases.json") as fh:
            cases = json.load(fh)["cases"]
        with open(a.map) as fh:
            mapping = json.load(fh)
        for c in cases:
            if c["name"] in mapping:
                results.append(check(c["name"], c["file"], mapping[c["name"]], c["engine"], c["format"], c.get("groups")))
    else:
        engine, fmt = guess(a.orig)
        results.append(check(a.orig, a.orig, a.refs, a.engine or engine, fmt, a.group))
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump([{"name": n, "ok": not e, "errors": e, "seconds": round(t, 3)} for n, e, t in results], fh)
    failed = 0
    for name, errors, _ in results:
        if errors:
            failed += 1
            print(f"FAIL {name}: {errors[0]}")
            if a.verbose:
                for e in errors[:50]:
                    print(f"    error: {e}")
        else:
            print(f"PASS {name}")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
