#!/usr/bin/python3
"""Generate kerchunk/testdata/filters.h5: filter pipelines the translator
must decode in Go (szip variants, fletcher32 before shuffle of 8-byte
elements, scale-offset/n-bit of several types) and small netCDF-style
cases (n-bit: see testdata/hdf5). Deterministic; run with Debian's Python (python3-h5py, built with
libaec):

    /usr/bin/python3 kerchunk/testdata/gen_filters.py
"""
import os

import h5py
import numpy as np
from h5py import h5d, h5p, h5s, h5t, h5z

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def smooth(shape, dtype, scale=100.0):
    n = int(np.prod(shape))
    x = np.cumsum(rng.normal(0, 1, n)).reshape(shape) * scale / 10
    return x.astype(dtype)


def lowlevel(f, name, data, chunks, setup):
    """Create a chunked dataset whose filter pipeline setup(dcpl) builds."""
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    setup(dcpl)
    dcpl.set_obj_track_times(False)
    tid = h5t.py_create(data.dtype)
    sid = h5s.create_simple(data.shape)
    dsid = h5d.create(f.id, name.encode(), tid, sid, dcpl=dcpl)
    dsid.write(h5s.ALL, h5s.ALL, np.ascontiguousarray(data))


with h5py.File(os.path.join(HERE, "filters.h5"), "w", libver="earliest", track_order=False) as f:
    # szip: entropy coding and nearest neighbour, 8/16/32/64-bit pixels,
    # both byte orders, scanlines that are not a whole number of blocks.
    f.create_dataset("szip_u1_ec", data=(np.arange(24 * 40) % 251).astype("u1").reshape(24, 40),
                     chunks=(8, 40), compression="szip", compression_opts=("ec", 8))
    f.create_dataset("szip_i2_nn", data=smooth((30, 48), "<i2"), chunks=(10, 48),
                     compression="szip", compression_opts=("nn", 16))
    f.create_dataset("szip_be_i2_nn", data=smooth((30, 48), ">i2"), chunks=(10, 48),
                     compression="szip", compression_opts=("nn", 16))
    f.create_dataset("szip_u4_nn_pad", data=smooth((12, 20), "<u4", 1e6) + 2 ** 31, chunks=(6, 20),
                     compression="szip", compression_opts=("nn", 8))
    f.create_dataset("szip_f4_nn", data=smooth((40, 32), "<f4"), chunks=(20, 32),
                     compression="szip", compression_opts=("nn", 32))
    f.create_dataset("szip_f8_ec", data=smooth((16, 64), "<f8"), chunks=(8, 64),
                     compression="szip", compression_opts=("ec", 32))
    zeros = np.zeros((16, 64), "<i4")
    zeros[3, 5] = 7
    f.create_dataset("szip_i4_sparse", data=zeros, chunks=(16, 64),
                     compression="szip", compression_opts=("nn", 32))

    # fletcher32 before shuffle: 8-byte elements followed by a checksum are
    # not a whole number of elements, which numcodecs' shuffle rejects.
    lowlevel(f, "fletcher_then_shuffle_f8", smooth((20, 10), "<f8"), (5, 10),
             lambda d: (d.set_fletcher32(), d.set_shuffle()))
    lowlevel(f, "fletcher_then_shuffle_i2", smooth((20, 10), "<i2"), (5, 10),
             lambda d: (d.set_fletcher32(), d.set_shuffle()))

    # scale-offset on more types (n-bit is covered by testdata/hdf5).
    f.create_dataset("so_u2", data=(smooth((20, 30), "f8") % 1000 + 500).astype("<u2"), chunks=(10, 15),
                     scaleoffset=0)
    f.create_dataset("so_be_i4", data=smooth((20, 30), ">i4"), chunks=(10, 15), scaleoffset=0)
    f.create_dataset("so_i1_fill", data=(smooth((20, 30), "f8") % 100).astype("i1"), chunks=(10, 15),
                     scaleoffset=0, fillvalue=-7)
    f.create_dataset("so_f4_d3", data=smooth((20, 30), "<f4"), chunks=(10, 15), scaleoffset=3)
    f.create_dataset("so_f8_d2_fill", data=smooth((20, 30), "<f8"), chunks=(10, 15), scaleoffset=2,
                     fillvalue=-999.0)
