"""The binding layer's own cost per call, SWIG against hand-written
(bench/python.sh dispatch; issue #15 item 3). Prints "<what> <median ns>":

- swig_proxy: weft.lowlevel.pyweft_addr(ptr), the way the package calls
  SWIG today (lowlevel.py's Python function, then SWIG's C wrapper:
  METH_VARARGS, tuple unpacking, SWIG_ConvertPtr's type check);
- swig_direct: the C wrapper alone (weft._lowlevel.pyweft_addr);
- handwritten: the same work in a hand-written METH_FASTCALL function
  over a capsule (python/bench/dispatch.c, compiled by bench/python.sh).

Each is a pointer in and an int out, so the difference is the calling
convention and the handle check, which every binding call pays. The times
include the timing loop's own cost; floor_builtin_id (the builtin id())
shows it.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import _dispatch  # type: ignore[import-not-found]

from weft import _lowlevel  # type: ignore[attr-defined]
from weft import lowlevel

N = 100_000


def timed(fn: Callable[[Any], Any], arg: Any) -> float:
    samples = []
    for _ in range(30):
        gc.disable()
        t0 = time.perf_counter_ns()
        for _ in range(N):
            fn(arg)
        samples.append((time.perf_counter_ns() - t0) / N)
        gc.enable()
    return statistics.median(samples)


def main() -> None:
    rc, loop = lowlevel.weft_loop_new()
    assert rc == 0
    ptr = loop  # any SWIG pointer object: pyweft_addr takes a void *
    cap = _dispatch.handle(lowlevel.pyweft_addr(ptr))
    print(f"floor_builtin_id {timed(id, ptr):.1f}")
    print(f"swig_proxy {timed(lowlevel.pyweft_addr, ptr):.1f}")
    print(f"swig_direct {timed(_lowlevel.pyweft_addr, ptr):.1f}")
    print(f"handwritten {timed(_dispatch.addr, cap):.1f}")
    lowlevel.weft_loop_close(loop)


if __name__ == "__main__":
    main()
