"""C2SP signed notes, tlog-checkpoints and tlog-proofs."""

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.ledger.transparency.merkle import MerkleTree, leaf_hash
from shared.ledger.transparency.signed_note import (
    TLOG_PROOF_HEADER,
    Checkpoint,
    NoteError,
    TlogProof,
    Verifier,
    key_id,
    sign_note,
    split_note,
    verify_checkpoint,
    verify_note,
    vkey_for,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"
NOTE_EXAMPLE = json.loads((VECTORS / "signed-note-example.json").read_text())
CHECKPOINT_EXAMPLE = json.loads((VECTORS / "checkpoint-format-example.json").read_text())

ORIGIN = "ledger.example/credentials"
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
LOG_VKEY = vkey_for(ORIGIN, LOG_KEY.public_key())
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


# --- C2SP example vectors --------------------------------------------------------------


def test_c2sp_example_vkey_parses_to_the_published_key():
    expected = NOTE_EXAMPLE["expected"]
    verifier = Verifier.parse(NOTE_EXAMPLE["vkey"])
    assert verifier.key_name == expected["keyName"]
    assert verifier.key_id.hex() == expected["keyIdHex"] == "530d903a"
    assert verifier.public_key.public_bytes_raw().hex() == expected["publicKeyHex"]


def test_c2sp_example_key_id_derivation():
    expected = NOTE_EXAMPLE["expected"]
    public_key = bytes.fromhex(expected["publicKeyHex"])
    assert key_id(expected["keyName"], public_key).hex() == "530d903a"


def test_c2sp_example_note_verifies():
    text = verify_note(NOTE_EXAMPLE["signedNote"], NOTE_EXAMPLE["vkey"])
    assert text == NOTE_EXAMPLE["expected"]["noteText"] == "This is an example message.\n"


def test_c2sp_example_note_fails_when_edited():
    edited = NOTE_EXAMPLE["signedNote"].replace("example message", "exemplary message")
    with pytest.raises(NoteError):
        verify_note(edited, NOTE_EXAMPLE["vkey"])


def test_checkpoint_format_example_parses():
    expected = CHECKPOINT_EXAMPLE["expectedParse"]
    text, signatures = split_note(CHECKPOINT_EXAMPLE["checkpoint"])
    checkpoint = Checkpoint.parse(text)
    assert checkpoint.origin == expected["origin"] == "example.com/behind-the-sofa"
    assert checkpoint.size == expected["treeSize"] == 20852163
    assert checkpoint.root_hash == base64.b64decode(expected["rootHashB64"])
    assert list(checkpoint.extensions) == expected["extensionLines"]
    assert checkpoint.to_body() == text  # re-serializing gives the signed bytes back
    assert [(s.key_name, s.key_id.hex(), len(s.signature)) for s in signatures] == [
        (sig["keyName"], sig["keyIdHex"], sig["sigLenBytes"]) for sig in expected["signatures"]
    ]


# --- notes we sign ---------------------------------------------------------------------


def test_our_note_verifies_and_has_spec_layout():
    note = sign_note("hello\n\nworld\n", ORIGIN, LOG_KEY)
    assert note.startswith("hello\n\nworld\n\n\u2014 " + ORIGIN + " ")
    assert verify_note(note, LOG_VKEY) == "hello\n\nworld\n"
    assert Verifier.parse(LOG_VKEY).key_id == split_note(note)[1][0].key_id


def test_vkey_whose_base64_contains_plus_parses():
    # Standard base64 may contain '+', the vkey separator; this key's encoding does.
    assert LOG_VKEY.count("+") > 2
    verifier = Verifier.parse(LOG_VKEY)
    assert verifier.public_key.public_bytes_raw() == LOG_KEY.public_key().public_bytes_raw()


def test_note_fails_with_another_key_of_the_same_name():
    note = sign_note("hello\n", ORIGIN, LOG_KEY)
    with pytest.raises(NoteError, match="no signature"):
        verify_note(note, vkey_for(ORIGIN, OTHER_KEY.public_key()))


def test_note_fails_when_text_is_edited():
    note = sign_note("size 10\n", ORIGIN, LOG_KEY)
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(note.replace("size 10", "size 11"), LOG_VKEY)


def test_forged_signature_under_our_key_id_fails():
    text = "hello\n"
    our_id = Verifier.parse(LOG_VKEY).key_id
    forged = base64.b64encode(our_id + OTHER_KEY.sign(text.encode())).decode()
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(f"{text}\n\u2014 {ORIGIN} {forged}\n", LOG_VKEY)


def test_unknown_cosignatures_are_ignored():
    note = sign_note("hello\n", ORIGIN, LOG_KEY)
    cosigned = note + sign_note("hello\n", "witness.example", OTHER_KEY).split("\n\n", 1)[1]
    assert verify_note(cosigned, LOG_VKEY) == "hello\n"
    assert verify_note(cosigned, vkey_for("witness.example", OTHER_KEY.public_key())) == "hello\n"


@pytest.mark.parametrize(
    "note",
    [
        "hello\n",  # no signature block
        "hello\n\n\u2014 name\n",  # signature line without a signature
        "hello\n\n- name AAAAAAAA\n",  # hyphen instead of em dash
        "hello\n\n\u2014 name not*base64\n",
        "hello\r\n\n\u2014 name AAAAAAAA\n",  # control character in the text
        "hello\n\n\u2014 name AAAAAAAA",  # missing final newline
        "hello\n\n\u2014 na\x01me AAAAAAAA\n",  # control character in a key name
    ],
)
def test_malformed_notes_raise_note_error(note):
    # split_note, not verify_note: a lenient parser would still fail verification
    # ("no signature"), which would hide the missing format check.
    with pytest.raises(NoteError):
        split_note(note)


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903a",  # missing key material
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong key ID
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong name
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 0x02
    ],
)
def test_malformed_vkeys_raise_note_error(vkey):
    with pytest.raises(NoteError):
        verify_note(NOTE_EXAMPLE["signedNote"], vkey)


def test_signing_rejects_text_without_final_newline():
    with pytest.raises(NoteError):
        sign_note("no newline", ORIGIN, LOG_KEY)


# --- checkpoints -----------------------------------------------------------------------


def test_signed_checkpoint_round_trip():
    checkpoint = Checkpoint(ORIGIN, 42, bytes(32), ("ext-line",))
    body = checkpoint.to_body()
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(bytes(32)).decode()}\next-line\n"
    assert verify_checkpoint(sign_note(body, ORIGIN, LOG_KEY), LOG_VKEY) == checkpoint


@pytest.mark.parametrize(
    "body",
    [
        "origin\n42\n",  # no root line
        "origin\n042\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # leading zero
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",  # non-canonical base64
        "origin\n42\nAAAA\n",  # root hash too short
        "origin\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",  # empty extension
        "\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # empty origin
    ],
)
def test_malformed_checkpoint_bodies_raise_note_error(body):
    with pytest.raises(NoteError):
        Checkpoint.parse(body)


# --- tlog-proof ------------------------------------------------------------------------


def _logged_proof(index: int, size: int = 11) -> tuple[TlogProof, bytes]:
    entries = [b"credential-event-%d" % i for i in range(size)]
    tree = MerkleTree(leaf_hash(e) for e in entries)
    note = sign_note(Checkpoint(ORIGIN, size, tree.root()).to_body(), ORIGIN, LOG_KEY)
    proof = TlogProof(index, tuple(tree.inclusion_proof(index)), note, extra=b"ctx")
    return proof, leaf_hash(entries[index])


def test_tlog_proof_text_follows_the_spec_layout():
    proof, _ = _logged_proof(3)
    lines = proof.to_text().split("\n")
    assert lines[0] == TLOG_PROOF_HEADER == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(b"ctx").decode()
    assert lines[2] == "index 3"
    hashes = lines[3 : 3 + len(proof.inclusion_proof)]
    assert [base64.b64decode(h) for h in hashes] == list(proof.inclusion_proof)
    assert lines[3 + len(hashes)] == ""
    assert "\n".join(lines[4 + len(hashes) :]) == proof.checkpoint  # verbatim


def test_tlog_proof_round_trip_and_verify():
    proof, leaf = _logged_proof(3)
    parsed = TlogProof.parse(proof.to_text())
    assert parsed == proof
    checkpoint = parsed.verify(leaf, ORIGIN, LOG_VKEY)
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 11)


def test_tlog_proof_without_extra_omits_the_line():
    proof, leaf = _logged_proof(10)
    bare = TlogProof(proof.index, proof.inclusion_proof, proof.checkpoint)
    assert bare.to_text().split("\n")[1] == "index 10"
    assert TlogProof.parse(bare.to_text()).verify(leaf, ORIGIN, LOG_VKEY).size == 11


def test_tlog_proof_rejects_wrong_leaf_origin_or_key():
    proof, leaf = _logged_proof(3)
    with pytest.raises(NoteError, match="inclusion"):
        proof.verify(leaf_hash(b"not logged"), ORIGIN, LOG_VKEY)
    with pytest.raises(NoteError, match="origin"):
        proof.verify(leaf, "other.example/log", LOG_VKEY)
    with pytest.raises(NoteError):
        proof.verify(leaf, ORIGIN, vkey_for(ORIGIN, OTHER_KEY.public_key()))


def test_c2sp_tlog_proof_example_parses():
    # The example from c2sp-tlog-proof.md; its signatures are elided there with "[...]",
    # which parsing tolerates because the checkpoint is kept verbatim until verification.
    checkpoint = (
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"
        "\u2014 example.com/fancylog hI2DJw[...]1roloI=\n"
    )
    text = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
        "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\n" + checkpoint
    )
    proof = TlogProof.parse(text)
    assert proof.index == 73894
    assert len(proof.inclusion_proof) == 5
    assert proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.checkpoint == checkpoint
    assert proof.to_text() == text


@pytest.mark.parametrize(
    "text",
    [
        "c2sp.org/tlog-proof@v2\nindex 0\n\ncheckpoint\n",  # wrong header
        "c2sp.org/tlog-proof@v1\nindex 01\n\ncheckpoint\n",  # leading zero
        "c2sp.org/tlog-proof@v1\n\ncheckpoint\n",  # no index line
        "c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\ncheckpoint\n",  # short proof hash
        "c2sp.org/tlog-proof@v1\nindex 0\n",  # truncated before the checkpoint
        "c2sp.org/tlog-proof@v1\nindex 0\n\n",  # empty checkpoint
    ],
)
def test_malformed_tlog_proofs_raise_note_error(text):
    with pytest.raises(NoteError):
        TlogProof.parse(text)
