"""Open Badges 3.0 baking: a credential carried inside its badge image.

PNG: an `iTXt` chunk keyed `openbadgecredential` whose text is the
credential (JSON, or a compact JWS), placed before `IEND`. SVG: an
`openbadges:credential` element (namespace
https://purl.imsglobal.org/ob/v3p0) right inside the root, the JSON in
CDATA. Baking embeds the document exactly as given, whatever its proofs
look like; reading back returns that text for the verifier to check.

Issuance bakes; the verification service reads what a holder uploads, so
both live here. The same checks vet an issuer's uploaded image: a real
PNG chunk stream with correct CRCs, or well-formed SVG with nothing that
runs (scripts, event handlers, javascript: links, foreign content).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from xml.etree import ElementTree

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadgecredential"
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_CREDENTIAL_TAG = f"{{{OB_NAMESPACE}}}credential"
_UNSAFE_ELEMENTS = frozenset({"script", "foreignObject", "handler", "iframe", "embed", "object"})
_UNSAFE_URL = re.compile(r"^\s*(javascript|vbscript|data\s*:\s*text/html)", re.IGNORECASE)
# The root start tag: quoted attribute values may contain ">".
_ROOT_TAG = re.compile(r"<svg\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>", re.DOTALL)
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


class BakingError(ValueError):
    """The image is not what it claims, or carries no credential."""


# -- PNG ------------------------------------------------------------------------

def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk, checking the signature, every length and
    CRC, that IHDR comes first and that IEND ends the stream."""
    if not data.startswith(PNG_SIGNATURE):
        raise BakingError("not a PNG: the 8-byte PNG signature is missing")
    offset, first = len(PNG_SIGNATURE), True
    while True:
        if offset + 12 > len(data):
            raise BakingError("truncated PNG: a chunk header runs past the end")
        length, kind = struct.unpack_from(">I4s", data, offset)
        end = offset + 12 + length
        if end > len(data):
            raise BakingError(f"truncated PNG: chunk {kind!r} runs past the end")
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(kind + body) != crc:
            raise BakingError(f"corrupt PNG: chunk {kind!r} fails its CRC")
        if first and kind != b"IHDR":
            raise BakingError("not a PNG: the first chunk is not IHDR")
        first = False
        yield kind, body
        if kind == b"IEND":
            if end != len(data):
                raise BakingError("corrupt PNG: data after IEND")
            return
        offset = end


def check_png(data: bytes) -> None:
    for _ in png_chunks(data):
        pass


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _is_credential_chunk(kind: bytes, body: bytes) -> bool:
    return kind == b"iTXt" and body.split(b"\0", 1)[0] == PNG_KEYWORD


def bake_png(image: bytes, credential: str) -> bytes:
    """The image with the credential as its one `openbadgecredential` iTXt
    chunk (uncompressed, no language tag), inserted just before IEND."""
    chunks = [(kind, body) for kind, body in png_chunks(image) if not _is_credential_chunk(kind, body)]
    text = PNG_KEYWORD + b"\0\0\0\0\0" + credential.encode()
    out = [PNG_SIGNATURE, *(_chunk(kind, body) for kind, body in chunks[:-1])]
    return b"".join([*out, _chunk(b"iTXt", text), _chunk(*chunks[-1])])


def unbake_png(image: bytes) -> str:
    # The whole stream is checked before any of it is believed.
    found = [body for kind, body in list(png_chunks(image)) if _is_credential_chunk(kind, body)]
    if not found:
        raise BakingError("the PNG carries no openbadgecredential iTXt chunk")
    return _itxt_text(found[0])


def _itxt_text(body: bytes) -> str:
    # keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
    _, rest = body.split(b"\0", 1)
    if len(rest) < 2:
        raise BakingError("corrupt PNG: the iTXt chunk is cut short")
    compressed, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\0", 2)
    if len(parts) != 3 or method != 0:
        raise BakingError("corrupt PNG: malformed iTXt chunk")
    text = parts[2]
    try:
        return (zlib.decompress(text) if compressed else text).decode()
    except (zlib.error, UnicodeDecodeError):
        raise BakingError("corrupt PNG: the iTXt text is not valid (compressed) UTF-8") from None


# -- SVG ------------------------------------------------------------------------

def parse_svg(data: bytes) -> ElementTree.Element:
    """The root <svg> element, refusing anything that is not well-formed SVG
    or that declares a DTD (entity expansion)."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise BakingError("SVG with a DOCTYPE or entity declarations is not accepted")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise BakingError(f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise BakingError("not an SVG image: the root element is not <svg> in the SVG namespace")
    return root


def check_svg(data: bytes) -> None:
    """An image an issuer may upload: SVG with no active content and no
    credential baked in already."""
    for element in parse_svg(data).iter():
        name = _local(element.tag)
        if name in _UNSAFE_ELEMENTS:
            raise BakingError(f"SVG with a <{name}> element is not accepted")
        if element.tag == _CREDENTIAL_TAG:
            raise BakingError("the SVG already carries a baked credential")
        for attribute, value in element.attrib.items():
            local = _local(attribute)
            if local.lower().startswith("on"):
                raise BakingError(f"SVG with an event handler attribute ({local}) is not accepted")
            if _UNSAFE_URL.match(value):
                raise BakingError(f"SVG with a script URL in {local} is not accepted")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def bake_svg(image: str, credential: str) -> str:
    """The image with `<openbadges:credential>` as the root's first child.
    The rest of the document is kept byte for byte."""
    parse_svg(image.encode())
    root = _root_start_tag(image)
    # "]]>" cannot appear inside CDATA: split it across two sections.
    cdata = credential.replace("]]>", "]]]]><![CDATA[>")
    element = f"<openbadges:credential><![CDATA[{cdata}]]></openbadges:credential>"
    start = root.group(0)[:-2] if root.group(1) else root.group(0)[:-1]
    if "xmlns:openbadges=" not in start:
        start += f' xmlns:openbadges="{OB_NAMESPACE}"'
    closing = "</svg>" if root.group(1) else ""
    return image[:root.start()] + start + ">" + element + closing + image[root.end():]


def _root_start_tag(image: str) -> re.Match[str]:
    position = 0
    while match := _PROLOG.match(image, position):
        position = match.end()
    root = _ROOT_TAG.match(image, len(image) - len(image[position:].lstrip()))
    if root is None:
        raise BakingError("could not find the root <svg> start tag (a prefixed root is not supported)")
    return root


def unbake_svg(image: bytes) -> str:
    """The credential text: the element's content, or its `verify`
    attribute (a compact JWS, the OB 3.0 form for JWT credentials)."""
    element = parse_svg(image).find(_CREDENTIAL_TAG)
    if element is None:
        raise BakingError("the SVG carries no openbadges:credential element")
    text = element.get("verify") or (element.text or "").strip()
    if not text:
        raise BakingError("the openbadges:credential element is empty")
    return text


def unbake(image: bytes) -> str:
    """Whichever of the two the image is."""
    if image.startswith(PNG_SIGNATURE):
        return unbake_png(image)
    return unbake_svg(image)
