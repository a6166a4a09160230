"""Build small ICC v2 RGB matrix/TRC profiles, so tests can tag images with a wide gamut.

Pillow can only create sRGB, LAB and XYZ profiles itself, and shipping someone
else's profile file raises licence questions; the format of a matrix profile is
simple enough to write.
"""

from __future__ import annotations

import struct

D50 = (0.9642, 1.0, 0.8249)
#: Adobe RGB (1998) colorants, adapted to D50 as the ICC requires.
ADOBE_RGB_COLORANTS = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in values)


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    body = b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text
    body += struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67
    return body + b"\0" * (-len(body) % 4)


def matrix_profile(
    description: str = "Adobe RGB (1998) compatible",
    colorants: tuple[tuple[float, float, float], ...] = ADOBE_RGB_COLORANTS,
    gamma: float = 563 / 256,
) -> bytes:
    """Return the bytes of an RGB display profile with these colorants and gamma."""
    tags = [
        (b"desc", _description(description)),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(colorants[0])),
        (b"gXYZ", _xyz(colorants[1])),
        (b"bXYZ", _xyz(colorants[2])),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
        (b"cprt", b"text\0\0\0\0Public domain test profile\0\0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000)
    header += b"mntrRGB XYZ " + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp"
    header += b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15f16(v) for v in D50)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data
