"""DSSE / in-toto signing and verification: the spec vector, key handling, and every kind of tampering."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.report.api import write_report
from auditor.report.sign import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Envelope,
    generate_keypair,
    load_private_key,
    load_public_key,
    pae,
    read_envelope,
)
from auditor.report.verify import verify_envelope
from tests.report.report_factories import evidence


def test_pae_matches_the_dsse_spec_vector() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t/ü", "é".encode()) == "DSSEv1 4 t/ü 2 é".encode()


def test_keygen_writes_private_key_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    with pytest.raises(InputError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "k")
    assert private.read_bytes() == before
    assert load_private_key(private).public_key() == load_public_key(public)


def test_bad_key_files_are_one_line_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(InputError, match=r"junk.pem: cannot load the signing key"):
        load_private_key(junk)
    with pytest.raises(InputError, match=r"junk.pem: not a PEM public key"):
        load_public_key(junk)
    with pytest.raises(InputError, match="not found"):
        load_private_key(tmp_path / "missing.key")


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A signed folder with a model-weights artifact; returns (folder, envelope, public key)."""
    private, public = generate_keypair(tmp_path / "keys")
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    weights = out / "model" / "model.safetensors"
    weights.write_bytes(b"\x00weights" * 100)
    from auditor.report.evidence import artifact

    ev = evidence(tmp_path, artifacts=[artifact(out, weights, "model-weights")])
    written = write_report(ev, out, key=private, formats=("html", "md"))
    assert written.envelope == "report.intoto.jsonl"
    return out, out / "report.intoto.jsonl", public


def test_signed_folder_verifies_and_lists_every_file(signed: tuple[Path, Path, Path]) -> None:
    _out, envelope_path, public = signed
    result = verify_envelope(envelope_path, public)
    assert result.ok, result.failures()
    assert result.statement is not None
    names = sorted(s.name for s in result.statement.subject)
    assert names == ["evidence.json", "model/model.safetensors", "report.html", "report.md"]
    envelope = read_envelope(envelope_path)
    assert envelope.payloadType == PAYLOAD_TYPE
    statement = json.loads(base64.b64decode(envelope.payload))
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["predicate"]["verdict"] == "pass"
    assert statement["predicate"]["epsilon_spent"] == pytest.approx(2.9)
    assert statement["predicate"]["epsilon_allowed"] == pytest.approx(8.0)
    assert [p["id"] for p in statement["predicate"]["policies"]] == ["gdpr", "pipl"]


@pytest.mark.parametrize("name", ["evidence.json", "report.html", "report.md", "model/model.safetensors"])
def test_flipping_one_byte_in_any_subject_fails(signed: tuple[Path, Path, Path], name: str) -> None:
    out, envelope_path, public = signed
    path = out / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify_envelope(envelope_path, public)
    assert not result.ok
    assert [c.what for c in result.failures()] == [f"subject {name}"]


def test_dropping_a_file_fails(signed: tuple[Path, Path, Path]) -> None:
    out, envelope_path, public = signed
    (out / "report.md").unlink()
    failures = verify_envelope(envelope_path, public).failures()
    assert [(c.what, c.detail) for c in failures] == [("subject report.md", "missing")]


def _rewrite(envelope_path: Path, **changes: str) -> None:
    envelope = read_envelope(envelope_path)
    data = envelope.model_dump(mode="json")
    data.update(changes)
    envelope_path.write_text(Envelope.model_validate(data).to_line())


def test_changed_payload_fails_the_signature(signed: tuple[Path, Path, Path]) -> None:
    _, envelope_path, public = signed
    envelope = read_envelope(envelope_path)
    statement = json.loads(envelope.payload_bytes())
    statement["predicate"]["verdict"] = "fail"
    _rewrite(envelope_path, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    result = verify_envelope(envelope_path, public)
    assert [c.what for c in result.failures()] == ["signature"]


def test_flipped_payload_byte_fails(signed: tuple[Path, Path, Path]) -> None:
    _, envelope_path, public = signed
    raw = bytearray(read_envelope(envelope_path).payload_bytes())
    raw[10] ^= 0x01
    _rewrite(envelope_path, payload=base64.b64encode(bytes(raw)).decode())
    assert "signature" in [c.what for c in verify_envelope(envelope_path, public).failures()]


def test_flipped_signature_byte_fails(signed: tuple[Path, Path, Path]) -> None:
    _, envelope_path, public = signed
    envelope = read_envelope(envelope_path)
    sig = bytearray(base64.b64decode(envelope.signatures[0].sig))
    sig[0] ^= 0x01
    data = envelope.model_dump(mode="json")
    data["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    envelope_path.write_text(json.dumps(data))
    assert [c.what for c in verify_envelope(envelope_path, public).failures()] == ["signature"]


def test_changed_payload_type_fails(signed: tuple[Path, Path, Path]) -> None:
    _, envelope_path, public = signed
    _rewrite(envelope_path, payloadType="application/json")
    failed = [c.what for c in verify_envelope(envelope_path, public).failures()]
    assert failed == ["signature", "payloadType"]


def test_another_key_fails(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, envelope_path, _ = signed
    _, other = generate_keypair(tmp_path / "other")
    assert [c.what for c in verify_envelope(envelope_path, other).failures()] == ["signature"]


def test_subject_names_cannot_leave_the_folder(tmp_path: Path) -> None:
    from auditor.report.api import predicate_for
    from auditor.report.sign import Statement, Subject, sign_statement, write_envelope

    private, public = generate_keypair(tmp_path / "keys")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    import hashlib

    digest = {"sha256": hashlib.sha256(b"x").hexdigest()}
    statement = Statement(subject=[Subject(name="../secret.txt", digest=digest),
                                   Subject(name=str(secret), digest=digest)],
                          predicate=predicate_for(evidence(tmp_path)))
    out = tmp_path / "out"
    out.mkdir()
    write_envelope(sign_statement(statement, load_private_key(private)), out / "e.intoto.jsonl")
    result = verify_envelope(out / "e.intoto.jsonl", public)
    assert [c.detail for c in result.failures()] == ["name points outside the report folder"] * 2


def test_artifact_changed_since_evidence_is_not_signed(tmp_path: Path) -> None:
    from auditor.report.evidence import artifact

    private, _ = generate_keypair(tmp_path / "keys")
    out = tmp_path / "out"
    out.mkdir()
    weights = out / "w.bin"
    weights.write_bytes(b"abc")
    ev = evidence(tmp_path, artifacts=[artifact(out, weights, "model-weights")])
    weights.write_bytes(b"abd")
    with pytest.raises(InputError, match=r"w.bin: changed since the evidence was recorded"):
        write_report(ev, out, key=private, formats=("md",))
    assert not (out / "report.intoto.jsonl").exists()
    assert not (out / "report.md").exists()


# --- standard tools: securesystemslib, openssl + sha256sum, one fingerprint format ---------------------------

def test_securesystemslib_verifies_our_envelope_and_rejects_a_tampered_payload(
        signed: tuple[Path, Path, Path]) -> None:
    sslib_dsse = pytest.importorskip("securesystemslib.dsse")
    from securesystemslib.signer import SSlibKey

    _, envelope_path, public = signed
    key = SSlibKey.from_crypto(load_public_key(public))
    assert read_envelope(envelope_path).signatures[0].keyid == key.keyid
    accepted = sslib_dsse.Envelope.from_dict(json.loads(envelope_path.read_text())).verify([key], 1)
    assert list(accepted) == [key.keyid]

    data = json.loads(envelope_path.read_text())
    statement = json.loads(base64.b64decode(data["payload"]))
    statement["predicate"]["verdict"] = "fail"
    data["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    from securesystemslib.exceptions import VerificationError

    with pytest.raises(VerificationError):
        sslib_dsse.Envelope.from_dict(data).verify([key], 1)


def test_envelopes_with_the_old_raw_key_keyid_still_verify(signed: tuple[Path, Path, Path]) -> None:
    """Reports signed before the keyid followed securesystemslib carry sha256(raw key); the keyid is an
    unsigned hint, so auditor's own verification never depended on it."""
    import hashlib

    from cryptography.hazmat.primitives import serialization

    _, envelope_path, public = signed
    raw = load_public_key(public).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    data = json.loads(envelope_path.read_text())
    data["signatures"][0]["keyid"] = hashlib.sha256(raw).hexdigest()
    envelope_path.write_text(json.dumps(data))
    assert verify_envelope(envelope_path, public).ok


def test_fingerprint_is_sha256_of_the_spki_der(tmp_path: Path) -> None:
    import hashlib

    from cryptography.hazmat.primitives import serialization

    from auditor.report.sign import fingerprint

    _, public = generate_keypair(tmp_path)
    key = load_public_key(public)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert fingerprint(key) == "SHA256:" + hashlib.sha256(der).hexdigest()
    pem_body = "".join(line for line in public.read_text().splitlines() if not line.startswith("-----"))
    assert fingerprint(key) == "SHA256:" + hashlib.sha256(base64.b64decode(pem_body)).hexdigest()


@pytest.mark.parametrize("text, hint", [
    ("SHA256:" + ":".join(["abcd"] * 16), "colon-grouped form of earlier versions"),
    ("ab" * 32, "prefix the hex with SHA256:"),
    ("SHA256:" + "ab" * 31, ""),
    ("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", ""),  # OpenSSH's base64 form
])
def test_only_one_fingerprint_form_is_accepted(text: str, hint: str) -> None:
    from auditor.report.verify import normalise_fingerprint

    with pytest.raises(InputError, match=r"--fingerprint: .* is not a key fingerprint: expected SHA256: and the "
                                         r"64 hex digits") as caught:
        normalise_fingerprint(text)
    assert hint in caught.value.message and "\n" not in caught.value.message
    assert normalise_fingerprint("sha256:" + "AB" * 32) == "SHA256:" + "ab" * 32


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_openssl_recipe() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split("<!-- verify-with-openssl", 1)[1]
    return after.split("```bash\n", 1)[1].split("```", 1)[0]


def _openssl_3() -> bool:
    import shutil
    import subprocess

    if any(shutil.which(tool) is None for tool in ("bash", "openssl", "jq", "base64", "sha256sum")):
        return False
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split()
    return len(version) > 1 and version[0] == "OpenSSL" and int(version[1].split(".")[0]) >= 3


@pytest.mark.skipif(not _openssl_3(), reason="needs bash, openssl 3, jq, base64 and sha256sum")
def test_readme_openssl_recipe_verifies_a_report_and_catches_tampering(signed: tuple[Path, Path, Path],
                                                                       tmp_path: Path) -> None:
    """The README's shell lines, run verbatim on a signed folder laid out as the README says."""
    import shutil
    import subprocess

    from auditor.report.sign import fingerprint

    out, _, public = signed
    work = tmp_path / "work"
    shutil.copytree(out, work / "audit-out")
    shutil.copy(public, work / "signer.pub")
    recipe = _readme_openssl_recipe()

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", recipe], cwd=work, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin:/usr/local/bin", "TMPDIR": str(tmp_path)})

    ok = run()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0] == f"fingerprint: {fingerprint(load_public_key(public))}"
    assert "Signature Verified Successfully" in lines
    assert sorted(lines[2:]) == sorted(f"{name}: OK" for name in
                                       ["evidence.json", "report.html", "report.md", "model/model.safetensors"])

    weights = work / "audit-out" / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    changed = run()
    assert changed.returncode != 0 and "model/model.safetensors: FAILED" in changed.stdout
    shutil.copy(out / "model" / "model.safetensors", weights)

    envelope = work / "audit-out" / "report.intoto.jsonl"
    data = json.loads(envelope.read_text())
    statement = json.loads(base64.b64decode(data["payload"]))
    statement["predicate"]["verdict"] = "fail"
    data["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    envelope.write_text(json.dumps(data))
    forged = run()
    assert forged.returncode != 0 and "Signature Verification Failure" in forged.stdout + forged.stderr
    assert ": OK" not in forged.stdout


# --- the signer's claimed identity ---------------------------------------------------------------------------

def test_signer_identity_beside_the_key_is_signed_and_shown(tmp_path: Path) -> None:
    from auditor.report.signer import SignerIdentity

    jane = SignerIdentity(name="Jane Doe", role="Data Protection Officer", organisation="Example GmbH")
    private, public = generate_keypair(tmp_path / "keys", jane)
    assert json.loads((tmp_path / "keys" / "auditor.signer.json").read_text())["name"] == "Jane Doe"
    out = tmp_path / "out"
    written = write_report(evidence(tmp_path), out, key=private, formats=("html", "md"),
                           signer=SignerIdentity(role="DPO"))
    assert written.signer == SignerIdentity(name="Jane Doe", role="DPO", organisation="Example GmbH")
    result = verify_envelope(out / "report.intoto.jsonl", public)
    assert result.ok and result.claimed_signer == written.signer
    assert json.loads(read_envelope(out / "report.intoto.jsonl").payload_bytes())["predicate"]["signer"] == {
        "name": "Jane Doe", "role": "DPO", "organisation": "Example GmbH"}
    claim = "Jane Doe (role: DPO; organisation: Example GmbH)"
    for page in ("report.html", "report.md"):
        text = (out / page).read_text()
        assert "Claimed signer (signed with the report, not verified" in text
        assert text.count(claim) >= 2, page  # beside the fingerprint in the key facts and in "How to verify"


def test_signer_file_of_another_key_or_with_control_characters_is_refused(tmp_path: Path) -> None:
    from auditor.report.signer import SignerIdentity

    private, _ = generate_keypair(tmp_path / "a", SignerIdentity(name="Jane Doe"))
    other, _ = generate_keypair(tmp_path / "b")
    (tmp_path / "b" / "auditor.signer.json").write_bytes((tmp_path / "a" / "auditor.signer.json").read_bytes())
    with pytest.raises(InputError, match=r"b/auditor.signer.json: field key_fingerprint: belongs to key SHA256:"):
        write_report(evidence(tmp_path), tmp_path / "out", key=other, formats=("md",))
    (tmp_path / "a" / "auditor.signer.json").write_text(json.dumps({"name": "Jane\x1b[32m ok"}))
    with pytest.raises(InputError, match=r"a/auditor.signer.json: field name: .*control or format character "
                                         r"U\+001B"):
        write_report(evidence(tmp_path), tmp_path / "out", key=private, formats=("md",))
    assert not (tmp_path / "out").exists() or not (tmp_path / "out" / "report.intoto.jsonl").exists()


def test_a_statement_claiming_a_signer_with_escapes_does_not_verify(tmp_path: Path) -> None:
    """Verify prints the claim on a terminal: a statement must not smuggle ANSI or bidi codes there, even one
    signed by the trusted key (it is built by hand; auditor itself refuses to write one)."""
    import rfc8785

    from auditor.report.api import predicate_for
    from auditor.report.sign import Signature, key_id, write_envelope

    private, public = generate_keypair(tmp_path / "keys")
    predicate = predicate_for(evidence(tmp_path)).model_dump(mode="json")
    predicate["signer"] = {"name": "Mallory\u202egnp.exe", "role": None, "organisation": None}
    payload = rfc8785.dumps({"_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE, "predicate": predicate,
                             "subject": [{"name": "x", "digest": {"sha256": "0" * 64}}]})
    key = load_private_key(private)
    signature = base64.b64encode(key.sign(pae(PAYLOAD_TYPE, payload))).decode()
    out = tmp_path / "out"
    out.mkdir()
    write_envelope(Envelope(payload=base64.b64encode(payload).decode(), payloadType=PAYLOAD_TYPE,
                            signatures=[Signature(keyid=key_id(key.public_key()), sig=signature)]),
                   out / "e.intoto.jsonl")
    result = verify_envelope(out / "e.intoto.jsonl", public)
    assert [c.what for c in result.failures()] == ["statement"]
    assert result.claimed_signer is None


def test_a_claimed_signer_is_inert_markup_in_the_reports(tmp_path: Path) -> None:
    from auditor.report.signer import SignerIdentity

    private, _ = generate_keypair(tmp_path / "keys", SignerIdentity(name="<script>x</script> | *bold*"))
    write_report(evidence(tmp_path), tmp_path / "out", key=private, formats=("html", "md"))
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt; | *bold*" in html
    # Markdown: backslash escapes (auditor/mdtext.py) make the tag and the table pipe literal text
    assert not re.search(r"(?<!\\)<script", md) and r"\<script>x\</script> \| \*bold\*" in md
