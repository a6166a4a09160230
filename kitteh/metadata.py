"""Remove location, device and owner metadata from an image file, losslessly.

Phones write the GPS position, the camera's make, model and serial number, the
owner's name and editing history into the metadata segments of a picture: EXIF,
XMP, IPTC, comments, and in multi-picture JPEGs (MPO) whole second images with
their own EXIF. A shared original must carry none of it, while staying the very
picture that was uploaded, so this works on the file's structure, never on its
pixels: segments are dropped or rewritten, the compressed image data is copied
byte for byte. HEIF and AVIF files keep their layout: their EXIF and XMP items are
overwritten where they lie.

Kept, because the picture would look different without them: the EXIF orientation
(rewritten as a minimal EXIF block holding nothing else), ICC colour profiles,
JFIF/Adobe colour-transform markers, PNG gamma/chroma/sRGB/physical-size chunks,
animation control. Pure bytes in, bytes out: no Pillow, no I/O. Which walk a file
gets is its format's ``container`` in :mod:`kitteh.formats`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from kitteh import formats

#: The EXIF tag of the orientation, the only tag kept.
ORIENTATION_TAG = 0x0112


class UnreadableStructure(ValueError):
    """The file's segments could not be walked; nothing can be promised about it."""


def strip_metadata(data: bytes, content_type: str, orientation: int = 1) -> bytes:
    """Return ``data`` without its private metadata, keeping ``orientation``.

    :raise UnreadableStructure: the file is truncated or not laid out as its type says.
    :raise ValueError: ``content_type`` is not a format of :mod:`kitteh.formats`.
    """
    image_format = formats.BY_CONTENT_TYPE.get(content_type)
    if image_format is None:
        raise ValueError(f"no metadata stripper for {content_type}")
    strip = _STRIPPERS[image_format.container]
    try:
        return strip(data, orientation)
    except (IndexError, struct.error) as exc:
        raise UnreadableStructure(f"the {content_type} file is truncated ({exc})") from exc


def minimal_exif(orientation: int) -> bytes:
    """A TIFF structure (the body of an EXIF block) with one tag, the orientation; none if 1."""
    entries = b""
    if orientation != 1:
        entries = struct.pack(">HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0)  # SHORT, 1 value
    count = struct.pack(">H", len(entries) // 12)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + count + entries + b"\0\0\0\0"


# JPEG -------------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP1, _APP2, _APP14, _APP15, _COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF, 0xFE
#: Markers that stand alone, without a length: TEM and the restart markers.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _strip_jpeg(data: bytes, orientation: int) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise UnreadableStructure("not a JPEG: no start-of-image marker")
    out = bytearray(b"\xff\xd8")
    exif_written = False
    position = 2
    while True:
        marker, position = _next_marker(data, position)
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)  # anything after (an MPO's second picture) is dropped
        if marker in _STANDALONE:
            out += bytes((0xFF, marker))
            continue
        (length,) = struct.unpack(">H", data[position : position + 2])
        segment = data[position - 2 : position + length]
        if len(segment) != length + 2 or length < 2:
            raise UnreadableStructure("a JPEG segment runs past the end of the file")
        payload = segment[4:]
        position += length
        if marker == _APP1 and payload.startswith(b"Exif\0\0"):
            if orientation != 1 and not exif_written:
                block = b"Exif\0\0" + minimal_exif(orientation)
                out += b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
                exif_written = True
        elif marker in (_APP0, _APP14) or (
            marker == _APP2 and payload.startswith(b"ICC_PROFILE\0")
        ):
            out += segment  # JFIF, Adobe colour transform, ICC profile
        elif _APP0 <= marker <= _APP15 or marker == _COM:
            pass  # XMP, IPTC/Photoshop, MPF, maker notes, comments...
        else:
            out += segment
        if marker == _SOS:
            end = _end_of_entropy_data(data, position)
            out += data[position:end]
            position = end


def _next_marker(data: bytes, position: int) -> tuple[int, int]:
    """The marker at ``position`` (fill bytes allowed) and where its segment starts."""
    if data[position] != 0xFF:
        raise UnreadableStructure(f"no JPEG marker at byte {position}")
    while data[position] == 0xFF:
        position += 1
    return data[position], position + 1


def _end_of_entropy_data(data: bytes, position: int) -> int:
    """Where the compressed data after a start-of-scan ends: at the next real marker."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0:
            raise UnreadableStructure("the JPEG ends inside its compressed data")
        follower = data[position + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
            position += 1 if follower == 0xFF else 2  # stuffed byte, restart, fill
            continue
        return position


# PNG --------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Text, time and EXIF chunks: where names, places, software and serials go.
_PNG_PRIVATE = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def _strip_png(data: bytes, orientation: int) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise UnreadableStructure("not a PNG: no signature")
    out = bytearray(_PNG_SIGNATURE)
    position = len(_PNG_SIGNATURE)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            raise UnreadableStructure("a PNG chunk runs past the end of the file")
        if kind == b"eXIf" and orientation != 1:
            out += _png_chunk(b"eXIf", minimal_exif(orientation))
        elif kind not in _PNG_PRIVATE:
            out += data[position:end]
        position = end
        if kind == b"IEND":
            break
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


# WebP -------------------------------------------------------------------------------

_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _strip_webp(data: bytes, orientation: int) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise UnreadableStructure("not a WebP: no RIFF/WEBP header")
    chunks: list[tuple[bytes, bytes]] = []
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        body = data[position + 8 : position + 8 + size]
        if len(body) != size:
            raise UnreadableStructure("a WebP chunk runs past the end of the file")
        position += 8 + size + (size & 1)
        if kind == b"XMP ":
            continue
        if kind == b"EXIF":
            if orientation != 1:
                chunks.append((b"EXIF", minimal_exif(orientation)))
            continue
        chunks.append((kind, body))
    has_exif = any(kind == b"EXIF" for kind, _ in chunks)
    out = bytearray()
    for kind, body in chunks:
        if kind == b"VP8X":
            flags = (body[0] & ~(_VP8X_EXIF | _VP8X_XMP)) | (_VP8X_EXIF if has_exif else 0)
            body = bytes((flags,)) + body[1:]
        out += kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(out) + 4) + b"WEBP" + bytes(out)


# GIF --------------------------------------------------------------------------------

#: Application extensions kept: animation looping. XMP ("XMP DataXMP") and any
#: other application's data are dropped.
_GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _strip_gif(data: bytes, _orientation: int) -> bytes:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise UnreadableStructure("not a GIF: no signature")
    packed = data[10]
    position = 13 + (3 << ((packed & 0x07) + 1) if packed & 0x80 else 0)
    out = bytearray(data[:position])
    while True:
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            out.append(0x3B)
            return bytes(out)
        if introducer == 0x2C:  # image descriptor, colour table, LZW data
            local = data[position + 9]
            start = position
            position += 10 + (3 << ((local & 0x07) + 1) if local & 0x80 else 0) + 1
            position = _after_sub_blocks(data, position)
            out += data[start:position]
        elif introducer == 0x21:
            label, start = data[position + 1], position
            position = _after_sub_blocks(data, position + 2)
            application = data[start + 3 : start + 14] if label == 0xFF else b""
            if label in (0xF9, 0x01) or application in _GIF_KEPT_APPLICATIONS:
                out += data[start:position]  # graphic control, plain text, looping
        else:
            raise UnreadableStructure(f"unknown GIF block 0x{introducer:02x}")


def _after_sub_blocks(data: bytes, position: int) -> int:
    while (size := data[position]) != 0:
        position += size + 1
    return position + 1


# HEIF and AVIF (ISO base media file format) ----------------------------------------

#: Item types whose payload is metadata: EXIF, and MIME items (XMP, mostly).
_ISOBMFF_METADATA_ITEMS = {b"Exif", b"mime"}
#: The smallest XMP packet that says nothing: what an XMP item is overwritten with.
_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'


def _strip_isobmff(data: bytes, orientation: int) -> bytes:
    """Blank the EXIF and XMP items of a HEIF/AVIF file in place.

    The metadata items' bytes are overwritten where they lie (a minimal EXIF, an
    empty XMP packet, then zeros or spaces), so no offset in the file moves and
    the coded picture, its turn (``irot``/``imir``) and colour (``colr``) stay as
    they were.
    """
    if data[4:8] != b"ftyp":
        raise UnreadableStructure("not a HEIF/AVIF file: no ftyp box")
    meta = _find_box(data, b"meta", 0, len(data))
    if meta is None:
        raise UnreadableStructure("a HEIF/AVIF file without a meta box")
    children = (meta[0] + 4, meta[1])  # meta is a full box: version and flags first
    iinf, iloc = _find_box(data, b"iinf", *children), _find_box(data, b"iloc", *children)
    if iinf is None or iloc is None:
        raise UnreadableStructure("a HEIF/AVIF meta box without iinf or iloc")
    idat = _find_box(data, b"idat", *children)
    out = bytearray(data)
    locations = _item_locations(data, *iloc)
    for item_id, item_type in _item_types(data, *iinf):
        if item_type not in _ISOBMFF_METADATA_ITEMS:
            continue
        if item_id not in locations:
            raise UnreadableStructure(f"item {item_id} has no location")
        method, extents = locations[item_id]
        if method == 1 and idat is not None:
            extents = [(idat[0] + offset, length) for offset, length in extents]
        elif method != 0:
            raise UnreadableStructure(f"item {item_id} is built by construction method {method}")
        if item_type == b"Exif":
            # The payload: a 4-byte offset to the TIFF header, then the TIFF structure.
            payload, pad = b"\0\0\0\0" + minimal_exif(orientation), b"\0"
        else:
            payload, pad = _EMPTY_XMP, b" "
        _overwrite(out, extents, payload, pad)
    return bytes(out)


def _find_box(data: bytes, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    """The (start, end) of the first ``kind`` box's contents between ``start`` and ``end``."""
    position = start
    while position + 8 <= end:
        size, found = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise UnreadableStructure(f"the {found!r} box runs past its container")
        if found == kind:
            return position + header, position + size
        position += size
    return None


def _item_types(data: bytes, start: int, end: int) -> list[tuple[int, bytes]]:
    """(item ID, item type) of each ``infe`` in an ``iinf`` box's contents."""
    version = data[start]
    position = start + 4 + (2 if version == 0 else 4)  # the entry count, which we do not need
    items = []
    while (entry := _find_box(data, b"infe", position, end)) is not None:
        infe_version = data[entry[0]]
        if infe_version < 2:
            raise UnreadableStructure(f"infe version {infe_version} names no item type")
        body = entry[0] + 4
        id_size = 2 if infe_version == 2 else 4
        item_id = int.from_bytes(data[body : body + id_size], "big")
        type_at = body + id_size + 2  # after the item protection index
        items.append((item_id, data[type_at : type_at + 4]))
        position = entry[1]
    return items


#: An item's construction method (0: in the file, 1: in the idat box) and its extents.
_Location = tuple[int, list[tuple[int, int]]]


def _item_locations(data: bytes, start: int, end: int) -> dict[int, _Location]:
    """Item ID -> (construction method, [(offset, length)]) from an ``iloc`` box's contents."""
    version = data[start]
    if version > 2:
        raise UnreadableStructure(f"iloc version {version} is unknown")
    position = start + 4
    offset_size, length_size = data[position] >> 4, data[position] & 0x0F
    base_offset_size, index_size = data[position + 1] >> 4, data[position + 1] & 0x0F
    position += 2
    count_size = 2 if version < 2 else 4

    def read(size: int) -> int:
        nonlocal position
        if position + size > end:
            raise UnreadableStructure("the iloc box ends inside an item")
        value = int.from_bytes(data[position : position + size], "big")
        position += size
        return value

    locations = {}
    for _ in range(read(count_size)):
        item_id = read(count_size)
        method = read(2) & 0x0F if version in (1, 2) else 0
        read(2)  # data reference index: 0, this file
        base = read(base_offset_size)
        extents = []
        for _ in range(read(2)):
            if version in (1, 2) and index_size:
                read(index_size)
            offset = read(offset_size)
            extents.append((base + offset, read(length_size)))
        locations[item_id] = (method, extents)
    return locations


def _overwrite(out: bytearray, extents: list[tuple[int, int]], payload: bytes, pad: bytes) -> None:
    """Write ``payload`` across ``extents``, in order, and ``pad`` over whatever is left."""
    total = sum(length for _, length in extents)
    if total < len(payload) or any(offset + length > len(out) for offset, length in extents):
        raise UnreadableStructure("a metadata item lies outside the file or is too short")
    if any(length == 0 for _, length in extents):
        raise UnreadableStructure("a metadata item runs to the end of the file")
    stream = payload + pad * (total - len(payload))
    for offset, length in extents:
        out[offset : offset + length] = stream[:length]
        stream = stream[length:]


#: The walk of each file layout a format's metadata can lie in.
_STRIPPERS: dict[formats.Container, Callable[[bytes, int], bytes]] = {
    "jpeg": _strip_jpeg,
    "png": _strip_png,
    "webp": _strip_webp,
    "gif": _strip_gif,
    "isobmff": _strip_isobmff,
}
