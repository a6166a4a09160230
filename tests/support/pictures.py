"""What a test can say of a picture beyond its size: is it the photo, and upright?

A variant can have the right size and still be wrong: turned the wrong way, mirrored,
or squashed into the upright box without being turned (the size comes from the EXIF
orientation even when the pixels ignore it). Comparing with each of those mistakes,
not only with the right answer, says which one a wrong picture is.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

from kitteh import decoding

#: Compared at this size, in grey: enough to tell a turn, cheap, blind to JPEG noise.
_BOX = 48


def orientation_distances(shown: Image.Image, original: Path | bytes) -> dict[str, float]:
    """Mean grey-level distance (0-255) of ``shown`` to the upright photo and to its mistakes."""
    stored = Image.open(io.BytesIO(original) if isinstance(original, bytes) else original)
    upright = ImageOps.exif_transpose(stored)
    candidates = {
        "upright": upright,
        "upside down": upright.rotate(180),
        "mirrored": ImageOps.mirror(upright),
        "flipped": ImageOps.flip(upright),
    }
    if stored.getexif().get(0x0112, 1) != 1:
        # The stored pixels stretched to the upright size: orientation ignored.
        candidates["not turned"] = stored.convert("RGB").resize(upright.size)
    size = (_BOX, round(_BOX * shown.height / shown.width))
    seen = shown.convert("L").resize(size)
    distances = {}
    for label, candidate in candidates.items():
        difference = ImageChops.difference(seen, candidate.convert("L").resize(size))
        histogram = difference.histogram()
        distances[label] = sum(i * n for i, n in enumerate(histogram)) / (size[0] * size[1])
    return distances


def assert_upright(
    shown: Image.Image | bytes, original: Path | bytes, tolerance: float = 10
) -> None:
    """Assert that ``shown`` is the ``original`` photo standing upright."""
    picture = Image.open(io.BytesIO(shown)) if isinstance(shown, bytes) else shown
    distances = orientation_distances(picture, original)
    closest = min(distances, key=distances.__getitem__)
    assert closest == "upright" and distances["upright"] < tolerance, distances


#: What a phone writes that nobody should get from a shared picture.
SECRET_SERIAL = "SN-0451-KITTEH-SECRET"
SECRET_OWNER = "Jane Q. Catowner"
GPS_LATITUDE = (51.0, 30.0, 26.18)
XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.436N"'
    b' exif:GPSLongitude="0,7.6W"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def with_private_metadata(photo: bytes, image_format: str) -> bytes:
    """``photo`` in ``image_format``, carrying GPS, a camera serial, an owner and XMP.

    The EXIF orientation of ``photo`` is kept, so the result must still stand upright.
    ``HEIF`` is written as an iPhone writes a HEIC (``pillow_heif``, tests only): the
    turn in the container (``irot``/``imir``), the EXIF and XMP as items of their own;
    ``AVIF`` likewise, by Pillow.
    """
    with Image.open(io.BytesIO(photo)) as source:
        exif = source.getexif()
        picture = source.convert("RGB")
    exif[0x010F] = "KittehCam"  # Make
    exif[0x0110] = "Model 9"  # Model
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0xA431] = SECRET_SERIAL  # BodySerialNumber
    exif_ifd[0xA430] = SECRET_OWNER  # CameraOwnerName
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: GPS_LATITUDE, 3: "W", 4: (0.0, 7.0, 36.0)})
    buffer = io.BytesIO()
    options: dict[str, object] = {"exif": exif.tobytes()}
    if image_format == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_text("Comment", f"shot by {SECRET_OWNER}")
        text.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
        options["pnginfo"] = text
    else:
        options["xmp"] = XMP_PACKET
    if image_format == "JPEG":
        options["quality"] = 90
    if image_format == "HEIF":
        import pillow_heif

        picture.info = {}  # pillow_heif would read the stored orientation from here as well
        pillow_heif.from_pillow(picture).save(buffer, quality=60, **options)
    else:
        picture.save(buffer, image_format, **options)
    return buffer.getvalue()


def private_metadata_in(data: bytes) -> list[str]:
    """The private things ``data`` still carries, by name; empty when it is clean."""
    decoding.inspect(data)  # teaches Pillow HEIF when it is one, as the app does
    found = []
    with Image.open(io.BytesIO(data)) as picture:
        exif = picture.getexif()
        if exif.get_ifd(0x8825):
            found.append("GPS IFD")
        if 0x010F in exif or 0x0110 in exif:
            found.append("camera make/model")
        if exif.get_ifd(0x8769):
            found.append("EXIF sub-IFD")
        if any(key in picture.info for key in ("Comment", "comment")):
            found.append("comment")
        xmp = [picture.info.get(key) for key in ("xmp", "XML:com.adobe.xmp")]
        # An XMP packet that describes nothing (a HEIF/AVIF's XMP item, emptied) is clean.
        if any(
            "rdf:" in (v.decode(errors="replace") if isinstance(v, bytes) else v) for v in xmp if v
        ):
            found.append("XMP")
    for secret in (SECRET_SERIAL, SECRET_OWNER, "GPSLatitude", "KittehCam"):
        if secret.encode() in data:
            found.append(f"the bytes {secret!r}")
    return found


def iphone_heic(photo: Path | bytes, quality: int = 60) -> bytes:
    """The photo as an iPhone stores it: a HEIC of the sensor's pixels, turned by ``irot``.

    An iPhone writes the pixels as the sensor saw them and records the turn in the HEIF
    container (``irot``/``imir``), which decoders apply; its EXIF orientation only repeats
    it. ``pillow_heif`` (the encoding build of the library; tests only) writes the same
    from a JPEG's pixels and EXIF.
    """
    import pillow_heif

    stored = Image.open(io.BytesIO(photo) if isinstance(photo, bytes) else photo)
    exif = stored.info.get("exif")
    pixels = stored.copy()
    pixels.info = {}
    buffer = io.BytesIO()
    pillow_heif.from_pillow(pixels).save(buffer, quality=quality, exif=exif)
    return buffer.getvalue()
