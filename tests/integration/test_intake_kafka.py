"""The Kafka intake end to end: real intake process, real broker, real Postgres.

Commands are signed by an issuer_held key registered in the registry; every
command gets its outcome on the reply topic; what cannot be read lands on
the dead-letter topic; a command for another issuer writes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import subprocess
import sys
import urllib.request
import uuid

import pytest

from services.intake.commands import ClaimStack, IntakeTopics, IssueCredential, Reinstate, Revoke, Suspend
from services.issuance.schemas import CredentialRequest, LearnerIdentity, StackRequest
from services.revocation.schemas import StatusChangeRequest
from shared.credential_format import verification_method
from shared.events import registry as ev
from tests.support import processes
from tests.support.intake import (
    intake_settings,
    publish,
    read_topic,
    running_intake,
    seed_text,
    signed,
    start_intake,
    wait_ready,
)
from tests.support.issuance import add_issuer_held_key, add_pathway, university
from tests.support.ledger import ledger_head
from tests.support.waiting import eventually
from tests.support.world import World

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def issue(issuer_id: str, reference: str, achievement_id: str) -> IssueCredential:
    return IssueCredential(command_id=str(uuid.uuid4()), issuer_id=issuer_id, credential=CredentialRequest(
        reference=reference, achievement_id=achievement_id,
        learner=LearnerIdentity(email=f"{reference.lower()}@example.org")))


async def test_commands_get_outcomes_refusals_write_nothing_and_unreadable_ones_are_dead_letters(
        settings, db, tmp_path):
    settings = intake_settings(settings)
    world, uni1, achievement = await university(db, settings)
    uni2 = await World(db, settings).issuer("uni-2")
    other_achievement = await world.achievement(uni2)
    key = await add_issuer_held_key(world, uni1, "cmd-key")
    kid = verification_method(uni1.did, "cmd-key")
    topics = IntakeTopics.named(settings.kafka_topic_prefix)

    with running_intake(settings, tmp_path) as process:
        await wait_ready(settings, process)
        first = issue("uni-1", "SIS-1", achievement)
        await publish(settings, [signed(first, key, kid)])
        [(reply_key, issued)] = await read_topic(settings, topics.outcomes, until=1)
        assert reply_key == first.command_id.encode()
        assert issued["outcome"] == "issued" and issued["reference"] == "SIS-1" and issued["position"] > 0

        head = await ledger_head(db)
        foreign = issue("uni-1", "SIS-2", other_achievement)
        impostor = issue("uni-2", "SIS-3", other_achievement)  # names uni-2, signed with uni-1's key
        forged = issue("uni-1", "SIS-4", achievement)
        revoke = Revoke(command_id=str(uuid.uuid4()), issuer_id="uni-1", credential_id=issued["credential_id"],
                        change=StatusChangeRequest(reason_code="issued_in_error", reason="wrong learner"))
        stack = ClaimStack(command_id=str(uuid.uuid4()), issuer_id="uni-1",
                           stack=StackRequest(pathway_id="no-such-pathway", component_ids=[issued["credential_id"]]))
        headless = b"e30." + signed(forged, key, kid)[1].split(b".", 1)[1]  # a JWS header of {}: unreadable
        twice = issue("uni-1", "SIS-5", achievement)
        typo = IssueCredential(command_id=str(uuid.uuid4()), issuer_id="uni-1", credential=CredentialRequest(
            reference="SIS-6", achievement_id=achievement, learner=LearnerIdentity(email="ada.example.org")))
        await publish(settings, [
            signed(first, key, kid),  # sent again: answered from its recorded outcome
            signed(twice, key, kid), signed(twice, key, kid),  # twice in one batch: runs once
            signed(foreign, key, kid), signed(impostor, key, kid),
            ("uni-1", signed(forged, key, kid)[1][:-8] + b"AAAAAAAA"),  # signature changed
            signed(revoke, key, kid), signed(stack, key, kid), signed(typo, key, kid),
            ("uni-1", b"\xff not a command"), ("uni-1", headless),
        ])
        replies = await read_topic(settings, topics.outcomes, until=10)
        outcomes = {k.decode(): v for k, v in replies}
        assert [v for k, v in replies if k == reply_key] == [issued, issued]
        assert [v["outcome"] for k, v in replies if k.decode() == twice.command_id] == ["issued", "issued"]
        assert len({v["credential_id"] for k, v in replies if k.decode() == twice.command_id}) == 1
        assert outcomes[foreign.command_id]["outcome"] == "rejected"
        assert outcomes[foreign.command_id]["problem"]["type"].endswith("/achievement-of-another-issuer")
        assert outcomes[foreign.command_id]["problem"]["status"] == 403
        assert outcomes[impostor.command_id]["problem"]["type"].endswith("/command-for-another-issuer")
        assert outcomes[forged.command_id]["problem"]["type"].endswith("/command-signature-invalid")
        assert outcomes[revoke.command_id]["outcome"] == "applied"
        assert outcomes[revoke.command_id]["status"] == "revoked"
        assert outcomes[stack.command_id]["problem"]["status"] == 404
        # The problem HTTP gives, less the learner's identity: other producers read this topic too.
        assert outcomes[typo.command_id]["problem"]["detail"] == "learner.email is not an email address (name@domain.tld)"
        # One issue and the revocation were written; the refused commands wrote nothing.
        assert await ledger_head(db) == head + 2
        assert await db.fetchval("SELECT count(*) FROM issuance.credentials") == 2

        dead = await read_topic(settings, topics.dead_letters, until=2)
        reasons = sorted(letter["reason"] for _, letter in dead)
        assert any("not valid UTF-8" in r for r in reasons), reasons
        assert any(r.startswith("JWS header") for r in reasons), reasons
        assert all(letter["partition"] >= 0 and letter["value_base64"] for _, letter in dead)

        metrics = await asyncio.to_thread(_get, f"http://{settings.host}:{settings.intake_port}/metrics")
        # At least: a rebalance may deliver a batch again (its outcomes then published again).
        assert sample(metrics, "intake_commands_consumed_total") >= 12
        assert sample(metrics, 'intake_outcomes_total{kind="revoke",outcome="applied"}') >= 1
        assert sample(metrics, 'intake_outcomes_total{kind="unreadable",outcome="dead_letter"}') >= 2
        assert 'intake_issuer_lag_seconds{issuer="uni-1"}' in metrics
        assert 'issuer="uni-2"' not in metrics  # only issuers whose signature verified get a label


def status_command(kind, issuer_id: str, credential_id: str, reason: str = "under review"):
    return kind(command_id=str(uuid.uuid4()), issuer_id=issuer_id, credential_id=credential_id,
                change=StatusChangeRequest(reason_code="under_investigation", reason=reason))


async def test_status_commands_run_in_order_under_the_http_rules(settings, db, tmp_path):
    settings = intake_settings(settings)
    world, uni1, achievement = await university(db, settings)
    uni2 = await World(db, settings).issuer("uni-2")
    keys = {"uni-1": await add_issuer_held_key(world, uni1, "cmd-key"),
            "uni-2": await add_issuer_held_key(world, uni2, "cmd-key")}
    kids = {"uni-1": verification_method(uni1.did, "cmd-key"), "uni-2": verification_method(uni2.did, "cmd-key")}

    def sign(command):
        return signed(command, keys[command.issuer_id], kids[command.issuer_id])

    topics = IntakeTopics.named(settings.kafka_topic_prefix)
    with running_intake(settings, tmp_path) as process:
        await wait_ready(settings, process)
        own, theirs = issue("uni-1", "SIS-1", achievement), issue("uni-2", "SIS-9", await world.achievement(uni2))
        await publish(settings, [sign(own), sign(theirs)])
        issued = {k.decode(): v for k, v in await read_topic(settings, topics.outcomes, until=2)}
        own_id, their_id = issued[own.command_id]["credential_id"], issued[theirs.command_id]["credential_id"]

        sequence = [status_command(Suspend, "uni-1", own_id), status_command(Reinstate, "uni-1", own_id),
                    status_command(Revoke, "uni-1", own_id), status_command(Reinstate, "uni-1", own_id),
                    status_command(Suspend, "uni-1", own_id, reason="   "),
                    status_command(Revoke, "uni-1", their_id)]
        head = await ledger_head(db)
        await publish(settings, [sign(c) for c in sequence])
        outcomes = {k.decode(): v for k, v in await read_topic(settings, topics.outcomes, until=8)}
        suspended, reinstated, revoked, too_late, blank, foreign = (outcomes[c.command_id] for c in sequence)
        assert [suspended["status"], reinstated["status"], revoked["status"]] == ["suspended", "active", "revoked"]
        assert suspended["position"] < reinstated["position"] < revoked["position"]
        assert too_late["problem"]["status"] == 409 and "revocation is final" in too_late["problem"]["detail"]
        assert blank["problem"]["type"].endswith("/validation-failed")
        assert foreign["problem"]["status"] == 404  # another issuer's credential looks like none at all
        assert await ledger_head(db) == head + 3


async def test_a_stack_claim_command_awards_once(settings, db, tmp_path):
    settings = intake_settings(settings)
    world, uni1, module_a = await university(db, settings)
    module_b = await world.achievement(uni1, title="Machine Learning Basics")
    award = await world.achievement(uni1, title="Certificate in Data Science", achievement_type="Certificate",
                                    workload=ev.Workload(ects=10.0))
    await add_pathway(world, uni1, "data-science", award, ev.PathwayRule(required=[module_a, module_b]))
    key = await add_issuer_held_key(world, uni1, "cmd-key")
    kid = verification_method(uni1.did, "cmd-key")
    topics = IntakeTopics.named(settings.kafka_topic_prefix)
    with running_intake(settings, tmp_path) as process:
        await wait_ready(settings, process)
        modules = [IssueCredential(command_id=str(uuid.uuid4()), issuer_id="uni-1", credential=CredentialRequest(
            reference=f"M-{n}", achievement_id=achievement, learner=LearnerIdentity(email="ada@example.org")))
            for n, achievement in enumerate((module_a, module_b))]
        await publish(settings, [signed(m, key, kid) for m in modules])
        issued = [v["credential_id"] for _, v in await read_topic(settings, topics.outcomes, until=2)]
        claims = [ClaimStack(command_id=str(uuid.uuid4()), issuer_id="uni-1",
                             stack=StackRequest(pathway_id="data-science", component_ids=issued)) for _ in range(2)]
        await publish(settings, [signed(c, key, kid) for c in claims])
        outcomes = {k.decode(): v for k, v in await read_topic(settings, topics.outcomes, until=4)}
        first, again = (outcomes[c.command_id] for c in claims)
        assert first["outcome"] == "issued" and first["stack_id"].startswith("stk-") and first["credential_id"]
        assert again["problem"]["status"] == 409 and first["stack_id"] in again["problem"]["detail"]
        assert await db.fetchval("SELECT count(*) FROM issuance.stacks") == 1


def sample(metrics: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.M)
    assert found, f"{series} not exported"
    return float(found.group(1))


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


ROWS = 10_000


@pytest.mark.slow
async def test_ten_thousand_pushed_rows_become_credentials_exactly_once_across_a_kill_9(settings, db, tmp_path):
    settings = intake_settings(settings)
    world, uni1, achievement = await university(db, settings)
    key = await add_issuer_held_key(world, uni1, "cmd-key")
    source = tmp_path / "term.csv"
    source.write_text("reference,email\n" + "".join(f"SIS-{i},learner{i}@example.org\n" for i in range(ROWS)))
    push_env = {**os.environ, **settings.to_env(), "CREDLEDGER_SIGNING_KEY": seed_text(key)}
    intake = start_intake(settings, tmp_path)
    push = None
    try:
        await wait_ready(settings, intake)
        push = subprocess.Popen(
            [sys.executable, "-m", "credledger", "push", "--csv", str(source), "--achievement", achievement,
             "--key-id", "cmd-key", "--batch-size", "2000", "--api-key", uni1.api_key,
             "--url", f"http://{settings.host}:{settings.intake_port}"],
            cwd=ROOT, env=push_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        async def some_issued() -> int | None:
            issued = await db.fetchval("SELECT count(*) FROM issuance.credentials")
            return issued if issued >= ROWS // 5 else None

        issued_before_kill = await eventually(some_issued, timeout=120, interval=0.1)
        processes.kill_hard(intake)  # midway: some batches run, some not, one perhaps half-recorded
        intake = start_intake(settings, tmp_path)
        code = await asyncio.to_thread(push.wait, 240)
        assert code == 0, push.stdout.read().decode()
        again = await asyncio.to_thread(subprocess.run, push.args, cwd=ROOT, env=push_env, capture_output=True)
        assert again.returncode == 0 and f"{ROWS} skipped as done in an earlier run" in again.stdout.decode()
    finally:
        processes.stop(intake)
        if push is not None and push.poll() is None:
            push.kill()

    with open(tmp_path / "term.csv.results.csv", newline="") as handle:
        results = list(csv.DictReader(handle))
    assert len(results) == ROWS
    assert {r["outcome"] for r in results} <= {"issued", "existing"}
    assert len({r["reference"] for r in results}) == len({r["credential_id"] for r in results}) == ROWS
    assert await db.fetchval("SELECT count(*) FROM issuance.credentials WHERE issuer_id = 'uni-1'") == ROWS
    assert await db.fetchval(
        "SELECT count(*) FROM ledger.events WHERE event_type = 'issuance.CredentialIssued'") == ROWS
    assert await db.fetchval("SELECT count(*) FROM intake.outcomes") == ROWS
    assert issued_before_kill < ROWS, "the kill came after the last batch; nothing was re-read"
