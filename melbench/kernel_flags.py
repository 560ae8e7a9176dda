"""Compilation flags shared by melbench's numba kernels.

``FASTMATH`` is numba's fast-math set without ``reassoc`` (and so without LLVM's
``fast``), ``arcp`` and ``afn``: no NaN/Inf checks, no signed zeros, fused multiply-add
(``contract`` rounds each product-sum once, the same in every copy of a kernel), but sums
are added in the order the code writes them and divisions and functions are exact.

Why not ``fastmath=True``: with ``reassoc`` LLVM may vectorise a reduction and peel its
first elements until the data is aligned, so the order of the additions, and the last bits
of the sum, depend on the address of the array and on the compilation context (a fresh
compile and numba's on-disk cache were seen to differ). The iterative methods amplify last
bits: LLVM re-associated an lws kernel's sums differently in the copy compiled with its
caller and in the one numba loads from its on-disk cache, which moved the music preset's
SC by up to 1.46 dB (``tests/test_lws_reproducible.py``); identical ``joint_fgla`` calls
in one process (``joint_tc`` with ``beta=0`` against ``joint_fgla``) were seen to differ by
4e-4 after 30 iterations, failing the bit-for-bit tests of ``tests/test_joint_continuity.py``
in about one run of six.

numba does not see a change of this constant in the modules that import it: clear the
caches (``find melbench -name '*.nb[ic]' -delete``) after editing it.
"""

from __future__ import annotations

#: numba ``fastmath`` flags for every kernel of the package (see the module docstring).
FASTMATH: set[str] = {"nnan", "ninf", "nsz", "contract"}  # numba takes a set, not a frozenset
