"""did:web resolves only over https: the TLS gateway variant serves the
issuers' DID documents and the status lists, and a resolver written here
(trusting only a throwaway CA made for this test) resolves a credential's
did:web issuer over TLS and checks the credential's proof with the key it
finds there."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credledger.embedded import free_port
from credledger.gateway import EmbeddedGateway, nginx_available
from tests.integration.test_gateway import running, services_on_free_ports
from tests.support import independent_eddsa
from tests.support.http import bearer
from tests.support.waiting import eventually, running_relay
from tests.support.world import World

pytestmark = pytest.mark.skipif(
    not nginx_available(), reason="nginx is not installed (apt-get install nginx; .ci/run installs it)"
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def throwaway_ca_and_server(folder: Path) -> tuple[str, str, bytes]:
    """(server cert path, server key path, CA certificate PEM): a CA that
    exists only for this test, and a certificate for 127.0.0.1 it signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("credledger test CA")).issuer_name(_name("credledger test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (folder / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(folder / "server.crt"), str(folder / "server.key"), ca.public_bytes(serialization.Encoding.PEM)


def did_web_document_url(did: str) -> str:
    """did:web method spec, Read (Resolve): replace ":" with "/", percent-
    decode the host (its port), https only, /.well-known when no path,
    then did.json."""
    parts = did.split(":")
    if parts[:2] != ["did", "web"] or len(parts) < 3:
        raise ValueError(f"not a did:web DID: {did}")
    host, path = unquote(parts[2]), [unquote(p) for p in parts[3:]]
    return f"https://{host}/{'/'.join(path) if path else '.well-known'}/did.json"


async def resolve_did_web(http: aiohttp.ClientSession, did: str, trusted: ssl.SSLContext) -> dict:
    async with http.get(did_web_document_url(did), ssl=trusted) as response:
        assert response.status == 200, await response.text()
        document = msgspec.json.decode(await response.read())
    assert document["id"] == did, "a DID document must describe the DID that was resolved"
    return document


def proof_key(document: dict, verification_method: str) -> bytes:
    method = next(m for m in document["verificationMethod"] if m["id"] == verification_method)
    assert method["controller"] == document["id"] and verification_method in document["assertionMethod"]
    return independent_eddsa.public_key_from_multikey(method["publicKeyMultibase"])


def jcs_proofs(credential: dict) -> list[dict]:
    """The eddsa-jcs-2022 proofs, whether `proof` is one object or a set."""
    proofs = credential["proof"] if isinstance(credential["proof"], list) else [credential["proof"]]
    return [p for p in proofs if p.get("cryptosuite") == "eddsa-jcs-2022"]


async def test_did_web_issuer_resolves_over_tls_and_its_key_verifies_the_credential(settings, db, tmp_path: Path):
    cert, key, ca_pem = throwaway_ca_and_server(tmp_path)
    tls_port = free_port()
    origin = f"https://127.0.0.1:{tls_port}"
    settings = msgspec.structs.replace(settings, public_base_url=origin)
    world = World(db, settings)
    await world.agency()
    issuer = await world.issuer()
    achievement_id = await world.achievement(issuer)
    trusted = ssl.create_default_context(cadata=ca_pem.decode())  # this CA only, no system roots

    async with services_on_free_ports(settings) as live, running_relay(live):
        gateway = EmbeddedGateway(live, tmp_path / "gateway", tls_cert=cert, tls_key=key, tls_port=tls_port)
        async with running(gateway) as http:
            async def issued() -> dict | None:
                async with http.post(f"{origin}/v1/credentials", ssl=trusted, headers=bearer(issuer.api_key), json={
                        "reference": "SIS-1", "achievement_id": achievement_id,
                        "learner": {"email": "ada@example.org"}}) as response:
                    return await response.json() if response.status == 201 else None

            issued_now = await eventually(issued)
            async with http.get(f"{origin}/v1/credentials/{issued_now['credential_id']}", ssl=trusted,
                                params={"token": issued_now["holder_token"]}) as response:
                credential = msgspec.json.decode(await response.read())

            assert credential["issuer"]["id"] == f"did:web:127.0.0.1%3A{tls_port}:issuers:{issuer.issuer_id}"
            did_document = await resolve_did_web(http, credential["issuer"]["id"], trusted)
            [proof] = jcs_proofs(credential)
            public_key = proof_key(did_document, proof["verificationMethod"])
            assert independent_eddsa.verify({**credential, "proof": proof}, public_key)
            tampered = {**credential, "validFrom": "2001-01-01T00:00:00Z", "proof": proof}
            assert not independent_eddsa.verify(tampered, public_key)

            # The status lists the credential names, over the same TLS origin.
            for entry in credential["credentialStatus"] if isinstance(credential["credentialStatus"], list) \
                    else [credential["credentialStatus"]]:
                assert entry["statusListCredential"].startswith(origin + "/status-lists/")

                async def published(url=entry["statusListCredential"]):
                    async with http.get(url, ssl=trusted) as response:
                        return None if response.status == 503 else (response.status, response.headers["Content-Type"])

                assert await eventually(published) == (200, "application/vc")

            # Only the test CA is trusted: the system roots do not vouch for this server.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with http.get(did_web_document_url(credential["issuer"]["id"]),
                                    ssl=ssl.create_default_context()):
                    pass
