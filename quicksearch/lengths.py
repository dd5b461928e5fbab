"""Field lengths as the index keeps them: one byte each, a logarithmic approximation.

The table is Whoosh's (``whoosh.util.numeric._length_byte_cache``, BSD licence), written out here
so that engines that do not use Whoosh (the cluster) score with the very same lengths as the
embedded index; ``tests/test_analysis.py`` checks it against Whoosh's. Engine-free.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

__all__ = ["LENGTH_OF_BYTE", "length_to_byte", "quantized_lengths"]

_LENGTHS = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12,
    13, 14, 16, 17, 18, 20, 21, 23, 25, 26, 28, 30,
    32, 34, 36, 38, 40, 42, 45, 47, 49, 52, 54, 57,
    60, 63, 66, 69, 72, 75, 79, 82, 86, 89, 93, 97,
    101, 106, 110, 114, 119, 124, 129, 134, 139, 145, 150, 156,
    162, 169, 175, 182, 189, 196, 203, 211, 219, 227, 235, 244,
    253, 262, 271, 281, 291, 302, 313, 324, 336, 348, 360, 373,
    386, 399, 414, 428, 443, 459, 475, 491, 508, 526, 544, 563,
    583, 603, 623, 645, 667, 690, 714, 738, 763, 789, 816, 844,
    873, 903, 933, 965, 998, 1032, 1066, 1103, 1140, 1178, 1218, 1259,
    1302, 1345, 1391, 1438, 1486, 1536, 1587, 1641, 1696, 1753, 1811, 1872,
    1935, 1999, 2066, 2135, 2207, 2280, 2356, 2435, 2516, 2600, 2687, 2777,
    2869, 2965, 3063, 3165, 3271, 3380, 3492, 3608, 3728, 3852, 3980, 4112,
    4249, 4390, 4536, 4686, 4842, 5002, 5168, 5340, 5517, 5700, 5889, 6084,
    6286, 6494, 6709, 6932, 7161, 7398, 7643, 7897, 8158, 8428, 8707, 8995,
    9293, 9601, 9918, 10247, 10586, 10936, 11298, 11671, 12057, 12456, 12868, 13294,
    13733, 14187, 14656, 15141, 15641, 16159, 16693, 17244, 17814, 18403, 19011, 19640,
    20289, 20959, 21652, 22367, 23106, 23869, 24658, 25472, 26314, 27183, 28081, 29009,
    29967, 30957, 31979, 33035, 34126, 35254, 36418, 37620, 38863, 40146, 41472, 42841,
    44256, 45717, 47227, 48786, 50397, 52061, 53780, 55556, 57390, 59285, 61242, 63264,
    65352, 67510, 69739, 72041, 74419, 76876, 79414, 82035, 84743, 87541, 90430, 93416,
    96499, 99684, 102975, 106374,
)
#: The length each byte stands for.
LENGTH_OF_BYTE = np.array(_LENGTHS, dtype=np.float32)


def length_to_byte(length: int) -> int:
    """The byte of a field length (Whoosh's ``length_to_byte``)."""
    return 255 if length >= 106_374 else bisect_left(_LENGTHS, length)


def quantized_lengths(lengths: np.ndarray) -> np.ndarray:
    """Field lengths as the embedded index keeps them (one byte each), as float32."""
    codes = np.array([length_to_byte(int(n)) for n in lengths], dtype=np.uint8)
    return LENGTH_OF_BYTE[codes]
