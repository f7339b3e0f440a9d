"""xrcompare.py [--concat=DIM] ZARR_DIR SOURCE [GROUP...]: open the plain Zarr v3 directory
ZARR_DIR (zarr-python 3) and the netCDF SOURCE with xarray, for the root and
each GROUP, and compare every variable: the same variable names, dims, shape,
decoded dtype and values (NaN/NaT-aware), both decoded (xarray's defaults) and
raw (decode_cf=False). Arrays whose Zarr v3 data type the installed
zarr-python cannot read (Debian 13 has zarr 3.0.6, which predates the
fixed-length types "null_terminated_bytes", "fixed_length_utf32" and
"raw_bytes") are removed from ZARR_DIR (a scratch copy: zarr-python parses
every member of a group, so xarray's drop_variables is not enough), dropped
from the source's dataset and listed in "skipped". Prints one
JSON object {"compared": N, "skipped": [...], "notes": [...], "errors":
[...]}; notes are accepted differences (see packed_float_width).
With --concat=DIM, SOURCE is a comma-separated list of files that xarray
concatenates along DIM (a combined dataset) and only decoded values are
compared (the combine re-encodes raw times in the first file's units)."""
import json
import os
import shutil
import sys

from zarr.core.metadata.v3 import DataType

KNOWN = {d.value for d in DataType}


def unreadable(zdir, group):
    """Names of the arrays of group whose data type zarr-python does not know."""
    gdir = os.path.join(zdir, group or "")
    out = []
    for name in sorted(os.listdir(gdir)):
        meta = os.path.join(gdir, name, "zarr.json")
        if not os.path.isfile(meta):
            continue
        with open(meta) as f:
            m = json.load(f)
        if m.get("node_type") != "array":
            continue
        dt = m.get("data_type")
        dt = dt.get("name") if isinstance(dt, dict) else dt
        if dt not in KNOWN:
            out.append((name, dt))
    return out

import numpy as np
import xarray as xr


def packed_float_width(a, b, av, bv):
    """True when a float32 vs float64 decoded dtype comes from CF packing:
    the attributes of Zarr are JSON, so a float32 scale_factor or add_offset
    is read back as a Python float and xarray unpacks to float64. Accepted
    when the float64 values are the source's float32 ones within the two
    float32 roundings of unpacking (scale, then offset)."""
    if {a.dtype, b.dtype} != {np.dtype("float32"), np.dtype("float64")}:
        return False
    enc = {**a.encoding, **a.attrs}
    if "scale_factor" not in enc and "add_offset" not in enc:
        return False
    x = np.asarray(av, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.asarray(bv).astype(np.float32)
        off = np.float32(abs(float(np.ravel(enc.get("add_offset", 0.0))[0])))
        tol = np.spacing(np.abs(x)) + np.spacing(np.abs(x) + off)
        return bool(np.all((x == y) | (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= tol)))


def open_source(src, concat, **kw):
    if not concat:
        return xr.open_dataset(src, **kw)
    parts = [xr.open_dataset(s, **kw) for s in src.split(",")]
    return xr.concat(parts, dim=concat, data_vars="minimal", coords="minimal", compat="override")


def compare(zdir, src, group, decode, drop, errors, notes, concat=None):
    where = f"{group or '/'} decode_cf={decode}"
    kw = {}
    try:
        o = open_source(src, concat, group=group, decode_cf=decode, drop_variables=drop)
    except ValueError as e:  # e.g. a calendar that needs cftime, not installed: compare undecoded times
        notes.append(f"{where}: source needs decode_times=False ({e})")
        kw["decode_times"] = False
        o = open_source(src, concat, group=group, decode_cf=decode, drop_variables=drop, **kw)
    z = xr.open_dataset(zdir, engine="zarr", group=group, consolidated=False, zarr_format=3, decode_cf=decode, **kw)
    names_o, names_z = set(o.variables), set(z.variables)
    if names_o != names_z:
        errors.append(f"{where}: variables {sorted(names_o)} vs {sorted(names_z)}")
    n = 0
    for name in sorted(names_o & names_z):
        a, b = o.variables[name], z.variables[name]
        n += 1
        if a.dims != b.dims:
            errors.append(f"{where} {name}: dims {a.dims} vs {b.dims}")
            continue
        av, bv = np.asarray(a.values), np.asarray(b.values)
        if a.dtype != b.dtype:
            if packed_float_width(a, b, av, bv):
                notes.append(f"{where} {name}: decoded {a.dtype} vs {b.dtype}, same values (CF packing)")
                continue
            errors.append(f"{where} {name}: dtype {a.dtype} vs {b.dtype}")
        if av.shape != bv.shape:
            errors.append(f"{where} {name}: shape {av.shape} vs {bv.shape}")
        elif not a.equals(b.copy(data=bv.astype(av.dtype, copy=False))) and not (av.dtype.kind == "f" and np.array_equal(av, bv, equal_nan=True)):
            bad = int(np.sum(av != bv))
            errors.append(f"{where} {name}: values differ ({bad} of {av.size})")
    return n


def main():
    args, concat = sys.argv[1:], None
    if args and args[0].startswith("--concat="):
        concat, args = args[0].split("=", 1)[1], args[1:]
    zdir, src, groups = args[0], args[1], [None] + args[2:]
    errors, skipped, notes, n = [], [], [], 0
    for g in groups:
        drop = []
        for name, dt in unreadable(zdir, g):
            shutil.rmtree(os.path.join(zdir, g or "", name))
            drop.append(name)
            skipped.append(f"{g or ''}/{name} ({dt})")
        for decode in (True,) if concat else (True, False):
            try:
                n += compare(zdir, src, g, decode, drop, errors, notes, concat)
            except Exception as e:  # a reader failure is a finding, reported as such
                errors.append(f"{g or '/'} decode_cf={decode}: {type(e).__name__}: {e}")
    print(json.dumps({"compared": n, "skipped": skipped, "notes": notes, "errors": errors}))


main()
