"""Issuers, their keys and DID documents through the registry's real HTTP
API; key validity checked in the RegistryState that issuance and
verification build from the same ledger events."""

from __future__ import annotations

import base64
import datetime as dt
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credential_format import issuer_did, issuer_id_from_did
from shared.crypto import eddsa_jcs
from shared.crypto.did_key import did_key_from_public_key
from shared.crypto.multibase import private_seed_to_multibase, public_key_to_multibase
from shared.key_vault import KeyVault
from shared.timeutil import format_time, now, parse_time
from tests.support.registry import Demo, call, refused, registry_state
from tests.support.waiting import eventually


def issuer_held_key() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    return private, public_key_to_multibase(eddsa_jcs.raw_public_key(private))


async def test_issuer_profile_is_public_and_only_its_owner_or_agency_edits_it(registry, registry_db):
    demo = await Demo(registry, "IE").build()
    profile = await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}")
    assert (profile["country"], profile["registered_by"], profile["accredited"]) == ("IE", demo.agency_id, True)
    assert profile["accreditations"][0]["scope"]["eqf_levels"] == [5, 6, 7]
    assert [k["key_id"] for k in profile["keys"]] == ["key-1"]
    updated = await call(registry, "PATCH", f"/v1/issuers/{demo.issuer_id}", demo.issuer_key,
                         {"homepage": "https://new.university.example"})
    assert updated["issuer"]["homepage"] == "https://new.university.example"
    assert updated["issuer"]["legal_name"] == profile["legal_name"]
    assert updated["issuer"]["version"] == profile["version"] + 1 and len(updated["positions"]) == 1
    await call(registry, "PATCH", f"/v1/issuers/{demo.issuer_id}", demo.admin_key, {"email": "office@university.example"})
    await demo.register_issuer("other-ie")
    other_key = await demo.issuer_client("other-ie")
    employer = (await call(registry, "POST", "/v1/clients", demo.admin_key,
                           {"role": "employer", "tenant_id": "acme-ie", "name": "Acme"}, 201))["api_key"]
    path = f"/v1/issuers/{demo.issuer_id}"
    await refused(registry, registry_db, "PATCH", path, other_key, {"homepage": "https://x.example"}, 403,
                  "belongs to issuer 'other-ie'")
    await refused(registry, registry_db, "PATCH", path, employer, {"homepage": "https://x.example"}, 403, "employer")
    await refused(registry, registry_db, "PATCH", path, demo.issuer_key, {"homepage": "https://new.university.example"},
                  422, "changes nothing")
    await refused(registry, registry_db, "PATCH", path, demo.issuer_key, {"email": "not an email"}, 422, "email")
    await refused(registry, registry_db, "PATCH", "/v1/issuers/ghost", demo.admin_key, {"email": "a@b.example"}, 404,
                  "no issuer 'ghost'")


async def test_did_document_lists_every_key_ever_registered(registry, registry_db, registry_settings):
    demo = await Demo(registry, "FI").build()
    private, public = issuer_held_key()
    await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys", demo.issuer_key,
               {"custody": "issuer_held", "key_id": "uni-hsm-1", "public_key_multibase": public}, 201)
    rotated = await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/rotate", demo.issuer_key,
                         {"custody": "hosted"}, 201)
    assert (rotated["key"]["key_id"], rotated["retired_key_id"], len(rotated["positions"])) == ("key-2", "key-1", 2)
    await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys/uni-hsm-1/compromise", demo.issuer_key,
               {"compromised_at": format_time(now()), "reason": "HSM backup tape lost"})

    # A retired window closes at the next whole second; look once it has.
    await eventually(lambda: _after(parse_time(rotated["key"]["valid_from"])))
    document = await call(registry, "GET", f"/issuers/{demo.issuer_id}/did.json")
    did = issuer_did(registry_settings.public_base_url, demo.issuer_id)
    assert document["id"] == did and issuer_id_from_did(did) == demo.issuer_id
    assert document["@context"] == ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
    methods = {m["id"]: m for m in document["verificationMethod"]}
    assert list(methods) == [f"{did}#key-1", f"{did}#uni-hsm-1", f"{did}#key-2"]
    assert document["assertionMethod"] == list(methods)
    assert all(m["type"] == "Multikey" and m["controller"] == did for m in methods.values())
    assert methods[f"{did}#uni-hsm-1"]["publicKeyMultibase"] == public
    assert "expires" in methods[f"{did}#key-1"] and "revoked" in methods[f"{did}#uni-hsm-1"]
    assert "expires" not in methods[f"{did}#key-2"]
    assert did_key_from_public_key(eddsa_jcs.raw_public_key(private)) in document["alsoKnownAs"]
    assert document["alsoKnownAs"] == ["did:key:" + m["publicKeyMultibase"] for m in methods.values()]
    keys = {k["key_id"]: k for k in await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}/keys")}
    assert {k: v["status"] for k, v in keys.items()} == {"key-1": "retired", "uni-hsm-1": "compromised",
                                                         "key-2": "active"}
    assert keys["uni-hsm-1"]["did_key"] == "did:key:" + public
    await refused(registry, registry_db, "GET", "/issuers/ghost/did.json", None, None, 404, "no issuer 'ghost'")


async def test_hosted_private_key_is_never_returned_or_logged(registry, registry_db, registry_settings, caplog):
    caplog.set_level(logging.DEBUG)
    demo = Demo(registry, "EE")
    await demo.create_agency()
    await demo.register_issuer()
    await demo.issuer_client()
    texts = []
    for method, path, body in [
        ("POST", f"/v1/issuers/{demo.issuer_id}/keys", {"custody": "hosted"}),
        ("POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/rotate", {"custody": "hosted"}),
        ("GET", f"/v1/issuers/{demo.issuer_id}", None), ("GET", f"/v1/issuers/{demo.issuer_id}/keys", None),
        ("GET", f"/issuers/{demo.issuer_id}/did.json", None),
    ]:
        response = await registry.request(method, path, json=body, headers={"Authorization": f"Bearer {demo.issuer_key}"})
        assert response.status < 300
        texts.append(await response.text())
    payloads = b"".join(r["payload"] for r in await registry_db.fetch("SELECT payload FROM ledger.events"))
    vault = KeyVault(registry_settings.master_key)
    for key_id in ("key-1", "key-2"):
        sealed = bytes(await registry_db.fetchval(
            "SELECT sealed_seed FROM registry.hosted_keys WHERE issuer_id = $1 AND key_id = $2", demo.issuer_id, key_id))
        seed = vault.open(demo.issuer_id, key_id, sealed)
        public = public_key_to_multibase(eddsa_jcs.raw_public_key(eddsa_jcs.signing_key_from_seed(seed)))
        assert public in texts[2]  # the sealed seed is the published key's private half
        secrets = [seed.hex(), base64.b64encode(seed).decode(), base64.urlsafe_b64encode(seed).decode().rstrip("="),
                   private_seed_to_multibase(seed)]
        for secret in secrets:
            assert not any(secret in text for text in texts), "a private key reached a response"
            assert secret not in caplog.text, "a private key reached the logs"
            assert secret.encode() not in payloads, "a private key reached the ledger"
        assert seed not in payloads
    assert "registry write" in caplog.text  # the writes were logged, without secrets


async def test_rotation_keeps_old_signatures_valid_and_compromise_cuts_off_later_ones(
        registry, registry_db, registry_settings):
    demo = await Demo(registry, "LV").build()
    sealed = bytes(await registry_db.fetchval(
        "SELECT sealed_seed FROM registry.hosted_keys WHERE issuer_id = $1 AND key_id = 'key-1'", demo.issuer_id))
    signer = eddsa_jcs.signing_key_from_seed(KeyVault(registry_settings.master_key).open(demo.issuer_id, "key-1", sealed))
    signed_at = now()
    did = issuer_did(registry_settings.public_base_url, demo.issuer_id)
    credential = eddsa_jcs.sign({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
                                 "issuer": did}, signer, f"{did}#key-1", format_time(signed_at))
    rotated = (await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/rotate", demo.issuer_key,
                          {"custody": "hosted"}, 201))["key"]

    state = await registry_state(registry_db)
    old = state.key(demo.issuer_id, "key-1")
    assert old.problem_at(signed_at) is None
    assert eddsa_jcs.verify(credential, old.public_key)  # still verifiable after rotation
    assert old.problem_at(old.valid_until) == "key_outside_validity"
    assert state.signing_key_at(demo.issuer_id, now()).key_id == "key-2"

    # Let the clock leave key-2's first second, so "before the compromise" exists.
    await eventually(lambda: _after(parse_time(rotated["valid_from"])))
    compromised_at = now()
    await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-2/compromise", demo.issuer_key,
               {"compromised_at": format_time(compromised_at), "reason": "leaked in a CI log"})
    new = (await registry_state(registry_db)).key(demo.issuer_id, "key-2")
    assert new.problem_at(new.valid_from) is None
    assert new.problem_at(compromised_at) == "key_compromised"
    assert new.problem_at(compromised_at + dt.timedelta(days=1)) == "key_compromised"
    assert (await registry_state(registry_db)).signing_key_at(demo.issuer_id, now()) is None


async def _after(moment: dt.datetime) -> bool | None:
    return True if now().replace(microsecond=0) > moment else None


async def test_keys_outside_their_window_cannot_sign(registry, registry_db):
    demo = await Demo(registry, "LT").build()
    _, public = issuer_held_key()
    starts = now() + dt.timedelta(hours=1)
    pending = await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys", demo.issuer_key, {
        "custody": "issuer_held", "public_key_multibase": public, "valid_from": format_time(starts),
        "valid_until": format_time(starts + dt.timedelta(days=365))}, 201)
    assert pending["key"]["status"] == "pending"
    await call(registry, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/retire", demo.issuer_key)
    state = await registry_state(registry_db)
    assert state.key(demo.issuer_id, "key-2").problem_at(now()) == "key_outside_validity"
    assert state.signing_key_at(demo.issuer_id, now(), custody="issuer_held") is None
    assert state.signing_key_at(demo.issuer_id, starts, custody="issuer_held").key_id == "key-2"
    # A retired window ends at the next whole second.
    next_second = now() + dt.timedelta(seconds=1)
    assert state.key(demo.issuer_id, "key-1").problem_at(next_second) == "key_outside_validity"
    assert state.signing_key_at(demo.issuer_id, next_second) is None  # no hosted key may sign any more


async def test_key_requests_that_break_the_rules_are_refused(registry, registry_db):
    demo = await Demo(registry, "CZ").build()
    await demo.register_issuer("other-cz")
    other_key = await demo.issuer_client("other-cz")
    _, public = issuer_held_key()
    await call(registry, "POST", "/v1/issuers/other-cz/keys", other_key,
               {"custody": "issuer_held", "public_key_multibase": public}, 201)
    keys = f"/v1/issuers/{demo.issuer_id}/keys"
    cases = [
        (keys, {"custody": "issuer_held"}, 422, "needs public_key_multibase"),
        (keys, {"custody": "hosted", "public_key_multibase": public}, 422, "generated by the registry"),
        (keys, {"custody": "issuer_held", "public_key_multibase": "z6MkNotAKey"}, 422, "not an Ed25519 Multikey"),
        (keys, {"custody": "issuer_held", "public_key_multibase": public}, 409, "already registered"),
        (keys, {"custody": "hosted", "key_id": "key-1"}, 409, "already has a key 'key-1'"),
        (keys, {"custody": "hosted", "valid_from": "2020-01-01T00:00:00Z"}, 422, "cannot be in the past"),
        (keys, {"custody": "software"}, 422, "custody"),
        (f"{keys}/key-9/rotate", {"custody": "hosted"}, 404, "no key 'key-9'"),
        (f"{keys}/key-1/compromise", {"compromised_at": "2999-01-01T00:00:00Z", "reason": "fortune teller"},
         422, "cannot be in the future"),
        ("/v1/issuers/ghost/keys", {"custody": "hosted"}, 404, "no issuer 'ghost'"),
    ]
    for path, body, status, says in cases:
        await refused(registry, registry_db, "POST", path, demo.issuer_key, body, status, says)
    await refused(registry, registry_db, "POST", keys, other_key, {"custody": "hosted"}, 403, "belongs to issuer 'other-cz'")
    await refused(registry, registry_db, "POST", f"{keys}/key-1/retire", other_key, None, 403, "belongs to issuer")
    await call(registry, "POST", f"{keys}/key-1/compromise", demo.issuer_key,
               {"compromised_at": "2021-01-01T00:00:00Z", "reason": "old laptop"})
    await refused(registry, registry_db, "POST", f"{keys}/key-1/compromise", demo.issuer_key,
                  {"compromised_at": "2022-01-01T00:00:00Z", "reason": "again"}, 409, "already reported")
    await call(registry, "POST", f"{keys}/key-1/retire", demo.issuer_key)
    await refused(registry, registry_db, "POST", f"{keys}/key-1/retire", demo.issuer_key, None, 409, "already ended")


async def test_issuer_listing_filters_and_pages_with_cursors(registry, registry_db):
    demo = Demo(registry, "DK")
    await demo.create_agency()
    for issuer_id in ("dk-a", "dk-b", "dk-c", "dk-d", "dk-e"):
        await demo.register_issuer(issuer_id)
    await demo.accredit([5, 6, 7], "dk-a")
    await demo.accredit([7], "dk-b")
    await demo.accredit([5], "dk-c")
    await call(registry, "POST", f"/v1/accreditations/{demo.accreditation_id}/suspend", demo.admin_key,
               {"reason": "under investigation"})

    async def ids(query: str) -> list[str]:
        return [i["issuer_id"] for i in (await call(registry, "GET", f"/v1/issuers?country=DK&{query}"))["items"]]

    assert await ids("status=accredited") == ["dk-a", "dk-b"]
    assert await ids("status=unaccredited") == ["dk-c", "dk-d", "dk-e"]
    assert await ids("eqf_level=7") == ["dk-a", "dk-b"]
    assert await ids("eqf_level=5") == ["dk-a"]
    assert (await call(registry, "GET", "/v1/issuers?country=SE"))["items"] == []
    pages, cursor = [], ""
    while True:
        page = await call(registry, "GET", f"/v1/issuers?country=DK&limit=2{cursor}")
        pages.append([i["issuer_id"] for i in page["items"]])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert pages == [["dk-a", "dk-b"], ["dk-c", "dk-d"], ["dk-e"]]
    await refused(registry, registry_db, "GET", "/v1/issuers?status=great", None, None, 400, "accredited, unaccredited")
    await refused(registry, registry_db, "GET", "/v1/issuers?limit=0", None, None, 400, "limit")
