"""The by-id hot path: the id hash table's vectorised probe (full windows,
runs past the table's end, absent keys behind long runs) against the
one-at-a-time probe, and the slice-wide gathering of `BatchVerifier.run`
against a straightforward per-item reference."""

from __future__ import annotations

import random
import time
import uuid

import msgspec
import numpy as np
import pytest

from services.verification import credential_table
from services.verification.batch import _encode
from services.verification.credential_table import NEVER
from services.verification.id_index import EMPTY, IdIndex, _mixed_many, key_halves
from services.verification.model import CredentialRecord
from services.verification.schemas import Identity, ItemProblem, VerificationItem
from services.verification.verdicts import BY_ID, window_state, window_states
from shared.credential_status import STATUSES
from shared.refusals import Malformed
from tests.unit.test_verification_model import fresh_verifier, world  # noqa: F401 (the fixture)

SIZE = 1024


def _homes(keys: bytes) -> np.ndarray:
    index = IdIndex(b"", np.arange(0), SIZE)
    return index._homes(_mixed_many(key_halves(keys, len(keys) // 16)))


def _keys_homed_at(wanted: set[int], count: int, rnd: random.Random) -> list[bytes]:
    """`count` random 16-byte keys whose home slot is in `wanted`."""
    chosen: list[bytes] = []
    while len(chosen) < count:
        batch = rnd.randbytes(16 * 4096)
        homes = _homes(batch)
        chosen += [batch[16 * n:16 * n + 16] for n in np.flatnonzero(np.isin(homes, list(wanted))).tolist()]
    return chosen[:count]


@pytest.mark.parametrize("run_at", [100, SIZE - 5])  # inside the table, and wrapping past its end
def test_the_vectorised_probe_finds_what_the_single_probe_finds_through_long_runs(run_at):
    rnd = random.Random(run_at)
    # 40 keys homed on three neighbouring slots: runs of up to 40 slots, five full windows.
    crowded = _keys_homed_at({run_at % SIZE, (run_at + 1) % SIZE, (run_at + 2) % SIZE}, 60, rnd)
    stored_keys = crowded[:40] + [rnd.randbytes(16) for _ in range(600)]
    absent = crowded[40:] + [rnd.randbytes(16) for _ in range(200)]  # 20 of them behind the long run
    ids = bytearray(b"".join(stored_keys))
    index = IdIndex(ids, np.arange(len(stored_keys)), SIZE)
    assert (index.slots != EMPTY).sum() == len(stored_keys)
    queries = stored_keys + absent + stored_keys[:40]  # the crowded ones twice
    rnd.shuffle(queries)
    found = index.find_many(key_halves(b"".join(queries), len(queries)), key_halves(ids, len(stored_keys)))
    expected = [index.find(key, ids) for key in queries]
    truth = {key: row for row, key in enumerate(stored_keys)}
    assert found.tolist() == expected == [truth.get(key, EMPTY) for key in queries]


def test_a_run_past_the_end_wraps_to_the_table_start():
    rnd = random.Random(5)
    crowded = _keys_homed_at({SIZE - 1}, 30, rnd)
    ids = bytearray(b"".join(crowded[:25]))
    index = IdIndex(ids, np.arange(25), SIZE)
    assert (index.slots[:24] != EMPTY).all() and index.slots[24] == EMPTY  # 1 slot at the end, 24 after the wrap
    found = index.find_many(key_halves(b"".join(crowded), 30), key_halves(ids, 25))
    assert found.tolist() == list(range(25)) + [EMPTY] * 5


def _add_rows(model, count: int, rnd: random.Random, now: int) -> list[str]:
    """Rows with every window state and status, some ids not in the UUID form."""
    table = model.credentials
    profile = table.profile(0)
    ids = []
    for n in range(count):
        cid = f"urn:uuid:{uuid.UUID(int=rnd.getrandbits(128), version=4)}" if n % 50 else f"https://else.example/c/{n}"
        window = rnd.choice([(now - 100, NEVER), (now - 100, now + 100), (now - 200, now - 100), (now + 100, NEVER),
                             (now, now + 1), (now - 1, now)])
        table.add(cid, rnd.randbytes(32), "sha256$" + rnd.randbytes(32).hex(), rnd.randbytes(16).hex(), profile,
                  now - 300, *window)
        table.set_status(table.count - 1, rnd.choice([0, 0, 0, 1, 2, 3]) % len(STATUSES))
        ids.append(cid)
    return ids


def _reference_run(verifier, entries, first_index, now):
    """The former per-item loop of BatchVerifier.run (every item fresh)."""
    table, verdicts = verifier.model.credentials, verifier.verdicts
    rows = table.rows([entry.id or "" if type(entry) is VerificationItem else "" for entry in entries])
    answers, counts, submitted = [b""] * len(entries), {"valid": 0, "invalid": 0, "unknown": 0}, []
    for offset, entry in enumerate(entries):
        index = first_index + offset
        cid = entry.id if type(entry) is VerificationItem else None
        if cid is not None and entry.credential is None and entry.jwt is None and entry.identity is None \
                and (row := rows[offset]) >= 0:
            part = table.parts[row]
            parts = table.parts_pool[part] if part >= 0 else verdicts.parts(cid, CredentialRecord(table, row))
            state = window_state(table.valid_from[row], table.valid_until[row], now)
            answers[offset] = b'{"index":%d,"id":%b,%b' % (index, _encode(cid), parts.fragments[BY_ID][state])
            counts[parts.verdicts[state]] += 1
            continue
        result = verifier._slow(entry, index, now, True, submitted, False)
        if result is not None:
            answers[offset] = verifier._count(result, counts)
    assert not submitted
    return answers, counts


@pytest.mark.parametrize("max_parts", [credential_table.MAX_PARTS, 2])  # 2: the pool is cleared mid-slice
def test_slice_wide_answers_equal_the_per_item_answers(world, monkeypatch, max_parts):  # noqa: F811
    monkeypatch.setattr(credential_table, "MAX_PARTS", max_parts)
    model, issued = world
    rnd = random.Random(max_parts)
    now = int(time.time())
    ids = _add_rows(model, 2000, rnd, now) + [event.credential_id for event in issued]
    verifier = fresh_verifier(model)
    absent = [f"urn:uuid:{uuid.uuid4()}", ids[1].upper(), "urn:uuid:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12,
              "not an id", "", "https://else.example/none", "urn:uuid:" + "A" * 36]
    plain = [VerificationItem(id=rnd.choice(ids) if rnd.random() < 0.9 else f"urn:uuid:{uuid.uuid4()}")
             for _ in range(3000)]
    others = [VerificationItem(id=ids[2], identity=Identity("emailAddress", "l0@example.org")),
              VerificationItem(), VerificationItem(credential=msgspec.json.decode(issued[0].document), id=ids[3]),
              ItemProblem.of(Malformed("unreadable", title="The item is malformed")), *(VerificationItem(id=cid) for cid in absent)]
    slices = [plain, plain[:500] + others + plain[500:1000], [VerificationItem(id=ids[5])] * 3 + others[:1],
              [VerificationItem(id=cid) for cid in absent], others, [], plain[:100] + [VerificationItem(id="urn:uuid:é")]]
    for entries in slices:
        for warm in (0, 300):  # no row's parts built, then some
            model.credentials.clear_parts()
            verifier.run(plain[:warm], 0, now)
            outcome = verifier.run(entries, 7, now)
            model.credentials.clear_parts()
            verifier.run(plain[:warm], 0, now)
            assert (outcome.answers, outcome.counts) == _reference_run(verifier, entries, 7, now)
    assert verifier.run(plain, 0, now).counts == _reference_run(verifier, plain, 0, now)[1]


def test_window_states_at_the_window_edges(world):  # noqa: F811
    model, _ = world
    now = int(time.time())
    _add_rows(model, 300, random.Random(1), now)
    table = model.credentials
    rows = np.arange(table.count)
    for moment in (now - 1, now, now + 1, now + 100, -5, 0, 2**32 + 3):
        expected = [window_state(table.valid_from[r], table.valid_until[r], moment) for r in range(table.count)]
        assert window_states(table.valid_from, table.valid_until, rows, moment).tolist() == expected
