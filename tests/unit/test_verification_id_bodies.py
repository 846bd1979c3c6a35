"""A body of nothing but canonical ids (credential_ids.id_body) is read by
one split and answered by `BatchVerifier.run_ids`, without the JSON decoder:
what it accepts is exactly what the decoder reads as plain id items, and the
answers are byte for byte those of the decoder's path."""

from __future__ import annotations

import json
import random
import time
import uuid

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from services.verification import credential_table, handlers
from services.verification.credential_ids import canonical_keys, id_body
from services.verification.projection import ITEMS_COUNTER_KEY, VERIFIER_KEY
from services.verification.schemas import VerificationItem
from shared.http.middleware import problem_middleware
from shared.service import SETTINGS_KEY
from shared.settings import load_settings
from tests.unit.test_verification_by_id import _add_rows
from tests.unit.test_verification_model import fresh_verifier, world  # noqa: F401 (the fixture)

IDS = [f"urn:uuid:{uuid.UUID(int=random.Random(7).getrandbits(128) + n, version=4)}" for n in range(50)]


def _compact(ids: list[str]) -> bytes:
    return msgspec.json.encode({"items": [{"id": cid} for cid in ids]})


@pytest.mark.parametrize("encode", [_compact, lambda ids: json.dumps({"items": [{"id": c} for c in ids]}).encode()])
@pytest.mark.parametrize("count", [1, 2, 50])
def test_both_framings_give_the_ids_and_their_keys(encode, count):
    found = id_body(encode(IDS[:count]))
    assert found is not None
    ids, keys = found
    assert ids == [cid.encode() for cid in IDS[:count]]
    assert (keys == canonical_keys("".join(IDS[:count]).encode(), count)[0]).all()


NIL = "urn:uuid:00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("body", [
    _compact([IDS[0], IDS[1].upper()]),  # not canonical: other_ids may hold it
    _compact([IDS[0], NIL]),
    _compact([IDS[0], "https://else.example/c/1"]),
    _compact([IDS[0][:-1], "5" + IDS[1]]),  # 44 + 46 bytes: 90 in all, yet no id of 45
    _compact([IDS[0], IDS[1][:-1] + "g"]),
    _compact([IDS[0][:-1] + '"']),
    _compact([]),
    b'{"items":[{"id":"' + IDS[0].encode() + b'","identity":null}]}',
    b'{"items":[{"id":"\\u0075' + IDS[0][1:].encode() + b'"}]}',
    b' ' + _compact(IDS[:2]),
    _compact(IDS[:2]) + b"\n",
    b'{"items":[{"id":"' + IDS[0].encode() + b'"},{"jwt":"' + IDS[1].encode() + b'"}]}',
    b'{"items":[{"id":"' + IDS[0].encode() + b'"},{"id":"' + IDS[1].encode() + b'"}],"x":[{"id":"' +
    IDS[2].encode() + b'"}]}',
    b'{"items":[{"id":"' + IDS[0].encode() + b'"}]}"}]}',
    b"",
])
def test_anything_else_is_left_to_the_decoder(body):
    assert id_body(body) is None


@pytest.mark.parametrize("max_parts", [credential_table.MAX_PARTS, 2])  # 2: the pool is cleared mid-slice
def test_run_ids_answers_as_run_does(world, monkeypatch, max_parts):  # noqa: F811
    monkeypatch.setattr(credential_table, "MAX_PARTS", max_parts)
    model, issued = world
    rnd = random.Random(max_parts)
    now = int(time.time())
    present = [cid for cid in _add_rows(model, 2000, rnd, now) if cid.startswith("urn:uuid:")]
    verifier = fresh_verifier(model)
    ids = [rnd.choice(present) if rnd.random() < 0.9 else f"urn:uuid:{uuid.uuid4()}" for _ in range(3000)]
    found = id_body(_compact(ids))
    assert found is not None
    entries = [VerificationItem(id=cid) for cid in ids]
    for warm in (0, 300):  # no row's parts built, then some
        model.credentials.clear_parts()
        verifier.run(entries[:warm], 0, now)
        fast = verifier.run_ids(found[0], found[1], 7, now)
        model.credentials.clear_parts()
        verifier.run(entries[:warm], 0, now)
        slow = verifier.run(entries, 7, now)
        assert (fast.answers, fast.counts) == (slow.answers, slow.counts)
    verifier.freshness.caught_up.clear()  # not current: the general path's answers (status unknown)
    stale = verifier.run_ids(found[0], found[1], 0, now)
    general = verifier.run(entries, 0, now)
    assert (stale.answers, stale.counts) == (general.answers, general.counts)
    assert stale.counts["unknown"] > fast.counts["unknown"]


async def test_the_service_answers_a_plain_body_as_the_decoder_path_does(world):  # noqa: F811
    """The same 12,000 ids (a 413) and 3,000 ids (pieces of an answer over a
    megabyte), compact, and with a space in front, which only the decoder reads."""
    model, issued = world
    now = int(time.time())
    present = [cid for cid in _add_rows(model, 3000, random.Random(3), now) if cid.startswith("urn:uuid:")]
    app = web.Application(middlewares=[problem_middleware])
    app[VERIFIER_KEY] = fresh_verifier(model)
    app[SETTINGS_KEY] = load_settings(environ={})
    app[ITEMS_COUNTER_KEY] = Counter("items", "items", ["verdict"], registry=CollectorRegistry())
    app.router.add_post("/", handlers.verify_items)
    async with TestClient(TestServer(app)) as client:
        async def answer(body: bytes) -> tuple[int, bytes]:
            async with client.post("/", data=body, headers={"Content-Type": "application/json"}) as response:
                data = await response.read()
            return response.status, data[data.index(b'"counts"'):] if response.status == 200 else data

        for count in (12_000, 3000, 1):
            ids = [present[n % len(present)] for n in range(count)] + [f"urn:uuid:{uuid.uuid4()}"]
            assert id_body(_compact(ids)) is not None
            fast, slow = await answer(_compact(ids)), await answer(b" " + _compact(ids))
            assert fast == slow
            assert fast[0] == (413 if count > 10_000 else 200)
