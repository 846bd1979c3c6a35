"""Work sliced by CPU time (cpu_step.py): a request's slices, its body's
decoding, its answer's pieces and a job's lines yield to the event loop at a
bounded CPU quantum, and every answer stays byte for byte what it was."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.verification import batch, handlers, jobs
from services.verification.cpu_step import CpuStep
from services.verification.job_formats import parse_lines
from services.verification.schemas import VerificationItem
from tests.unit.test_verification_model import fresh_verifier, world  # noqa: F401 - the fixture

HEAD, TAIL = b'{"as_of_position":1,"results":[', b"]}"
ANSWER = b'{"index":%d,"id":"urn:uuid:%08d","verdict":"valid","checks":[]}'


def _answers(count: int) -> list[bytes]:
    return [ANSWER % (i, i) + b" " * (700 + i % 5) for i in range(count)]


@pytest.fixture
def yields(monkeypatch) -> list[float]:
    """Every yield of a CpuStep, with the CPU its step had used."""
    seen: list[float] = []
    original = CpuStep.yield_now

    async def counted(self: CpuStep) -> None:
        seen.append(self.spent())
        await original(self)

    monkeypatch.setattr(CpuStep, "yield_now", counted)
    return seen


async def test_a_slice_preempted_in_wall_time_does_not_shrink_the_next(world, monkeypatch):  # noqa: F811
    """Slices are sized from thread CPU time: a slice that lost the CPU to
    other processes (here: slept) costs its items nothing more."""
    model, issued = world
    verifier = fresh_verifier(model)
    ids = [VerificationItem(id=issued[i % 3].credential_id) for i in range(3 * batch.FIRST_SLICE)]
    sizes: list[int] = []
    run = verifier.run

    def preempted_run(entries, first_index=0, now=None, *, plain=False):
        sizes.append(len(entries))
        time.sleep(0.2)  # four quanta of wall time, no CPU
        return run(entries, first_index, now, plain=plain)

    monkeypatch.setattr(verifier, "run", preempted_run)
    monkeypatch.setattr(batch, "SLICE_SECONDS", (0.05, 0.05))  # far more than these slices' CPU
    outcome = await verifier.run_sliced(ids)
    assert sizes == [batch.FIRST_SLICE, len(ids) - batch.FIRST_SLICE]  # wall time: 16 items
    assert outcome.answers == run(ids).answers


async def test_a_spent_step_yields_before_every_slice_and_answers_the_same(world, monkeypatch, yields):  # noqa: F811
    model, issued = world
    verifier = fresh_verifier(model)
    ids = [VerificationItem(id=issued[i % 3].credential_id) for i in range(200)]
    whole = await verifier.run_sliced(ids)
    assert yields == []  # a small request runs in one step
    monkeypatch.setattr(batch, "SLICE_SECONDS", (0.0, 0.0))  # no budget: slices of one item, a yield before each
    sliced = await verifier.run_sliced(ids, step=CpuStep())
    assert len(yields) == 200
    assert sliced.answers == whole.answers and sliced.counts == whole.counts


@pytest.mark.parametrize("count", [0, 1, 2, 1357, 1358, 1359, 1360, 1361, 1362, 1716, 4000])
async def test_answers_sent_in_pieces_with_yields_between_them_are_the_same_bytes(count, monkeypatch, yields):
    """Around the one-write limit (WHOLE_ANSWER) and the pieces (WRITE_PIECE), a yield after every piece."""
    monkeypatch.setattr(handlers, "QUANTUM", 0.0)
    answers = _answers(count)
    head, tail = HEAD, TAIL

    async def answer(request: web.Request) -> web.StreamResponse:
        return await handlers._send_in_pieces(request, head, list(answers), tail, CpuStep())

    app = web.Application()
    app.router.add_get("/", answer)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/")
        body = await response.read()
    assert body == head + b",".join(answers) + tail
    assert msgspec.json.decode(body)["results"] == [msgspec.json.decode(a) for a in answers]
    pieces = len(head) + sum(map(len, answers)) + count > handlers.WHOLE_ANSWER
    assert bool(yields) == pieces  # an answer of a few pieces is one write, with no yield


async def test_a_body_decoded_item_by_item_with_yields_decodes_the_same(monkeypatch, yields):
    items = [{"id": f"urn:uuid:{i:08d}"} if i % 7 else {"id": i} for i in range(50)]  # every 7th invalid
    body = msgspec.json.encode({"items": items})
    at_once, _ = await handlers.decode_items(body)
    assert yields == []
    monkeypatch.setattr(handlers, "QUANTUM", 0.0)
    monkeypatch.setattr(handlers, "DECODE_SLICE", 3)
    sliced, plain = await handlers.decode_items(body)
    assert len(yields) == -(-50 // 3) and not plain
    assert msgspec.to_builtins(sliced) == msgspec.to_builtins(at_once)
    assert [type(e).__name__ for e in sliced[:8]] == ["ItemProblem"] + ["VerificationItem"] * 6 + ["ItemProblem"]


async def test_a_jobs_lines_are_parsed_in_slices_the_same(monkeypatch, yields):
    lines = [f"urn:uuid:{i:08d},l{i}@example.org".encode() if i % 5 else b'"broken' for i in range(1234)]
    monkeypatch.setattr(jobs, "QUANTUM", 0.0)
    sliced = await jobs._parse_sliced(lines, "csv", ["id", "email"], CpuStep())
    assert len(yields) == -(-1234 // jobs.PARSE_SLICE)
    assert msgspec.to_builtins(sliced) == msgspec.to_builtins(parse_lines(lines, "csv", ["id", "email"]))



def test_the_parametrized_counts_cross_the_one_write_limit():
    def size(count: int) -> int:
        return len(HEAD) + sum(map(len, _answers(count))) + count - 1 + len(TAIL)

    assert size(1359) <= handlers.WHOLE_ANSWER < size(1360)


async def test_long_steps_go_on_one_per_round_of_the_loop_and_all_finish():
    """Three tasks yielding after every step, and a callback marking each
    round of the event loop: between two marks at most one step runs, every
    task gets its turns in order, and a task cancelled while it waits for
    its turn neither stops the others nor keeps a turn."""
    seen: list[str] = []
    loop = asyncio.get_running_loop()

    def mark() -> None:
        seen.append("|")
        if len(seen) < 400:
            loop.call_soon(mark)

    async def long_work(name: str, steps: int) -> None:
        step = CpuStep()
        for _ in range(steps):
            seen.append(name)
            await step.yield_now()

    loop.call_soon(mark)
    tasks = [asyncio.create_task(long_work(name, 20)) for name in "abc"]
    await asyncio.sleep(0)
    tasks[2].cancel()
    await asyncio.gather(tasks[0], tasks[1])
    rounds = "".join(seen).split("|")
    assert len(rounds[1]) == 3  # the tasks' first steps, before any yield
    assert max(len(r) for r in rounds[2:]) <= 1
    assert "".join(seen).count("a") == "".join(seen).count("b") == 20
    assert tasks[2].cancelled()
