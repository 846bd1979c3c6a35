"""New credential ids: random version 4 UUID URNs in canonical spelling,
revealing nothing of when or in which order they were issued."""

from __future__ import annotations

import uuid

from shared.credential_format import new_credential_id, parse_credential_id


def test_ids_are_canonical_random_version_4_uuid_urns():
    ids = [new_credential_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for credential_id in ids:
        parsed = uuid.UUID(credential_id.removeprefix("urn:uuid:"))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert credential_id == f"urn:uuid:{parsed}" == parse_credential_id(credential_id)


def test_every_random_bit_varies():
    # 122 random bits: each free bit is seen both set and clear across ids.
    values = [uuid.UUID(new_credential_id()[9:]).int for _ in range(2_000)]
    fixed = (0xF << 76) | (0x3 << 62)  # the version nibble and the variant bits
    ones = 0
    zeros = 0
    for value in values:
        ones |= value
        zeros |= ~value
    free = ((1 << 128) - 1) & ~fixed
    assert ones & free == free and zeros & free == free
