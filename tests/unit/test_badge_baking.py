"""OB 3.0 baking: PNG iTXt chunks and SVG openbadges:credential elements,
and the vetting of uploaded images. The PNG checks parse chunks with their
own struct code, not the module's reader."""

from __future__ import annotations

import struct
import zlib

import pytest

from shared.badge_baking import (
    OB_NAMESPACE,
    BakingError,
    bake_png,
    bake_svg,
    check_png,
    check_svg,
    unbake,
    unbake_png,
    unbake_svg,
)
from shared.badge_image import BadgeText, badge_png, badge_svg

CREDENTIAL = '{"@context":["https://www.w3.org/ns/credentials/v2"],"name":"Caf\u00e9 ]]> <b>","proof":[{"a":1}]}'
TEXT = BadgeText(title="Data <Analysis> & \"Python\"", level="EQF level 6", issuer="TU Dublin & Co")


def chunks(png: bytes) -> list[tuple[bytes, bytes, int]]:
    out, offset = [], 8
    while offset < len(png):
        length, kind = struct.unpack_from(">I4s", png, offset)
        body = png[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack_from(">I", png, offset + 8 + length)
        out.append((kind, body, crc))
        offset += 12 + length
    return out


def test_png_round_trip_puts_one_itxt_chunk_before_iend_with_a_correct_crc():
    baked = bake_png(badge_png(TEXT), CREDENTIAL)
    parsed = chunks(baked)
    assert [kind for kind, _, _ in parsed][-2:] == [b"iTXt", b"IEND"]
    kind, body, crc = parsed[-2]
    assert crc == zlib.crc32(kind + body)
    assert body == b"openbadgecredential\0\0\0\0\0" + CREDENTIAL.encode()
    assert unbake_png(baked) == CREDENTIAL == unbake(baked)
    # Baking again replaces the credential rather than adding a second one.
    again = bake_png(baked, "{}")
    assert [k for k, _, _ in chunks(again)].count(b"iTXt") == 1 and unbake(again) == "{}"


def test_png_reader_accepts_a_compressed_itxt_chunk():
    png = badge_png(TEXT)
    body = b"openbadgecredential\0\x01\x00en\0\0" + zlib.compress(CREDENTIAL.encode())
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    iend = png.rindex(b"IEND") - 4
    assert unbake_png(png[:iend] + chunk + png[iend:]) == CREDENTIAL


@pytest.mark.parametrize("damage, says", [
    (lambda png: b"\x89PNX" + png[4:], "signature"),
    (lambda png: png[:30] + bytes([png[30] ^ 1]) + png[31:], "CRC"),
    (lambda png: png[:-20], "truncated"),
    (lambda png: png + b"junk", "after IEND"),
])
def test_corrupt_png_is_refused(damage, says):
    baked = bake_png(badge_png(TEXT), CREDENTIAL)
    with pytest.raises(BakingError, match=says):
        unbake_png(damage(baked))
    with pytest.raises(BakingError):
        check_png(damage(baked))


def test_png_without_a_credential_says_so():
    with pytest.raises(BakingError, match="no openbadgecredential"):
        unbake_png(badge_png(TEXT))


def test_svg_round_trip_keeps_the_image_and_escapes_cdata_ends():
    svg = badge_svg(TEXT)
    check_svg(svg.encode())
    baked = bake_svg(svg, CREDENTIAL)
    assert f'xmlns:openbadges="{OB_NAMESPACE}"' in baked
    assert "<openbadges:credential><![CDATA[" in baked
    # Only the root start tag gains the namespace, and its first child is new.
    root_end = svg.index(">")
    assert baked.startswith(svg[:root_end]) and baked.endswith(svg[root_end + 1:])
    assert unbake_svg(baked.encode()) == CREDENTIAL == unbake(baked.encode())


def test_generated_svg_escapes_every_text():
    svg = badge_svg(TEXT)
    assert "Data &lt;Analysis&gt; &amp; &quot;Python&quot;" in svg and "TU Dublin &amp; Co" in svg
    assert "<Analysis>" not in svg


def test_svg_with_a_prolog_comment_and_self_closing_root_bakes():
    svg = '<?xml version="1.0"?>\n<!-- <svg> in a comment -->\n<svg xmlns="http://www.w3.org/2000/svg" data-x="a>b"/>'
    assert unbake_svg(bake_svg(svg, CREDENTIAL).encode()) == CREDENTIAL


def test_svg_reader_takes_the_jwt_form_from_the_verify_attribute():
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}">'
           '<openbadges:credential verify="eyJhbGciOiJFZERTQSJ9.e30.c2ln"/></svg>')
    assert unbake_svg(svg.encode()) == "eyJhbGciOiJFZERTQSJ9.e30.c2ln"


@pytest.mark.parametrize("svg, says", [
    ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><g onclick="x()"/></svg>', "event handler"),
    ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
     '<a x:href="JavaScript:alert(1)"><text>t</text></a></svg>', "script URL"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "foreignObject"),
    ('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>', "DOCTYPE"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', "well-formed"),
    ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "root element"),
    (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:o="{OB_NAMESPACE}"><o:credential>x</o:credential></svg>',
     "already carries"),
])
def test_unsafe_or_malformed_svg_is_refused(svg, says):
    with pytest.raises(BakingError, match=says):
        check_svg(svg.encode())
