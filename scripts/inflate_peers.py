"""Inflate throughput of zlib, ISA-L's igzip and libdeflate on the same gzip files, one thread.

Usage: python inflate_peers.py FILE_LIST   (one .json.gz path per line; scripts/bench.sh runs it)

Every file is read into memory first; each inflater then decompresses all of them three times and
the best pass counts (output bytes per second). The call overhead per file is the same for all
three, so the ratio between them is what this measures.
"""
import sys
import time
import zlib

import deflate
from isal import isal_zlib

paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
data = [open(p, "rb").read() for p in paths]
total = sum(len(zlib.decompress(d, 31)) for d in data)


def measure(name, inflate):
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        n = sum(len(inflate(d)) for d in data)
        best = min(best, time.perf_counter() - start)
        assert n == total, f"{name} inflated {n} bytes, expected {total}"
    print(f"inflate, one thread, {len(data)} files ({total / 1e6:.0f} MB out): {name} {total / best / 2**30:.2f} GiB/s")


measure("zlib " + zlib.ZLIB_RUNTIME_VERSION, lambda d: zlib.decompress(d, 31))
measure("ISA-L igzip (isal " + __import__("isal").__version__ + ")", lambda d: isal_zlib.decompress(d, 31))
measure("libdeflate (deflate " + deflate.__version__ + ")", deflate.gzip_decompress)
