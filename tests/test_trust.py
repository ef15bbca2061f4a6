"""Trust in the round trip (issue 13 item 1): detokenize verifies the delivery's manifest before it writes, and
the generic token of an invalid value is never an empty marker (which detokenize would leave as it is)."""

from __future__ import annotations

import json
import string
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from tokenize_kit import Keyset, detokenize_table, tokenize_table
from tokenize_kit.cli import cli
from tokenize_kit.table import EMPTY_MARKERS

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

TK = Path(sys.executable).with_name("tokenize-kit")
TWO_LETTERS = [a + b for a in string.ascii_letters for b in string.ascii_letters]  # 2,704 values


@pytest.mark.parametrize("typ", ["phone", "eg_national_id", "sa_national_id", "email", "iban"])
@pytest.mark.parametrize("seed", range(3))
def test_generic_tokens_never_equal_an_empty_marker(typ, seed):
    """Every two-letter value (lower and upper case) is invalid for these types; its generic token is never a
    placeholder such as ``na`` / ``NA``, and the whole column comes back exactly (the markers themselves pass
    through as they are)."""
    ks = Keyset.generate()
    policy = {"columns": {"c": {"type": typ}}}
    table = pa.table({"c": TWO_LETTERS})
    tokens = tokenize_table(table, policy, ks)
    out = tokens["c"].to_pylist()
    inputs_not_markers = [(v, t) for v, t in zip(TWO_LETTERS, out, strict=True) if v not in EMPTY_MARKERS]
    assert len(inputs_not_markers) == 2704 - 2  # (na and NA are markers themselves)
    assert not [t for _, t in inputs_not_markers if t in EMPTY_MARKERS]
    assert detokenize_table(tokens, policy, ks).equals(table)


# -- detokenize verifies the delivery's manifest --------------------------------------------------------------------

POLICY = "columns:\n  id: {type: eg_national_id}\n  mobile: {type: phone}\n  note: {type: phone}\n"
CSV = ("id,mobile,note\n29801010123456,01012345678,tn\n30001010123458,+20 111 234 5678,N/A\n"
       "28506150112345,0155-123-4567,il\n")


@pytest.fixture()
def delivery(tmp_path, monkeypatch):
    """keys.json (protected), in.csv, policy.yaml and its delivery out.csv (+ manifest), made in the command."""
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    monkeypatch.delenv("TOKENIZE_KIT_KEYSET", raising=False)
    monkeypatch.chdir(tmp_path)
    Keyset.generate().save(tmp_path / "keys.json", passphrase="pw")
    (tmp_path / "in.csv").write_text(CSV)
    (tmp_path / "policy.yaml").write_text(POLICY)
    tk("tokenize", "in.csv", "out.csv", "--policy", "policy.yaml", "--keyset", "keys.json", "-q")
    return tmp_path


def tk(*args: str, code: int | None = 0):
    res = CliRunner().invoke(cli, list(args))
    if code is not None:
        assert res.exit_code == code, (res.output, res.exception)
    return res


def refused(res, field: str) -> None:
    """Exit 2, one line naming ``field``, nothing written, no value or traceback."""
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and field in lines[0], res.output
    assert "Traceback" not in res.output
    for value in ("29801010123456", "01012345678", "0155-123-4567"):
        assert value not in res.output
    assert not Path("back.csv").exists() and not Path("back.csv.manifest.json").exists()


def test_detokenize_after_rotate_takes_the_version_from_the_manifest(delivery):
    tk("keys", "rotate", "keys.json")
    res = tk("detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "keys.json", "-q")
    assert "verified against out.csv.manifest.json" in res.output
    assert (delivery / "back.csv").read_bytes() == (delivery / "in.csv").read_bytes()


def test_detokenize_after_rotate_with_the_new_version_named_is_refused(delivery):
    tk("keys", "rotate", "keys.json")
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "keys.json",
               "--key-version", "2", code=None), "key-version mismatch")
    (delivery / "p2.yaml").write_text("key_version: 2\n" + POLICY)
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "p2.yaml", "--keyset", "keys.json", code=None),
            "key-version mismatch")


def test_detokenize_with_another_valid_keyset_is_refused(delivery):
    Keyset.generate().save(delivery / "other.json", passphrase="pw")
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "other.json", code=None),
            "keyset fingerprint mismatch")


def test_detokenize_with_a_keyset_lacking_the_version_is_refused(delivery):
    tk("keys", "rotate", "keys.json")
    tk("tokenize", "in.csv", "out2.csv", "--policy", "policy.yaml", "--keyset", "keys.json", "-q")  # version 2
    Keyset.generate().save(delivery / "other.json", passphrase="pw")
    res = tk("detokenize", "out2.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "other.json", code=None)
    refused(res, "key-version mismatch")
    assert "lacks" in res.output


def test_detokenize_with_a_different_policy_is_refused(delivery):
    keep = POLICY.replace("{type: eg_national_id}", "{type: eg_national_id, keep: [gender]}")
    (delivery / "p2.yaml").write_text(keep)
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "p2.yaml", "--keyset", "keys.json", code=None),
            "policy hash mismatch: column 'id'")


def test_detokenize_with_the_wrong_algorithm_is_refused(delivery):
    (delivery / "p2.yaml").write_text("algorithm: ff3-1\n" + POLICY)
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "p2.yaml", "--keyset", "keys.json", code=None),
            "algorithm mismatch")


def test_detokenize_a_detokenized_file_is_refused(delivery):
    tk("detokenize", "out.csv", "b1.csv", "--policy", "policy.yaml", "--keyset", "keys.json", "-q")
    refused(tk("detokenize", "b1.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "keys.json", code=None),
            "'detokenize' output")


def test_detokenize_with_a_malformed_manifest_is_one_line(delivery):
    (delivery / "out.csv.manifest.json").write_text('{"tool": "tokenize-kit", "key": []}')
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "keys.json", code=None),
            "malformed")
    (delivery / "out.csv.manifest.json").write_text("{not json")
    refused(tk("detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset", "keys.json", code=None),
            "not valid JSON")


def _vendor_results(delivery: Path) -> None:
    """The vendor's results: the delivery's tokenized mobile column and an outcome, no manifest."""
    lines = (delivery / "out.csv").read_text().splitlines()
    mobiles = [line.split(",")[1] for line in lines]
    rows = ["mobile,outcome"] + [f"{m},paid" for m in mobiles[1:]]
    (delivery / "results.csv").write_text("\n".join(rows) + "\n")
    (delivery / "rp.yaml").write_text("columns:\n  mobile: {type: phone}\n")


def test_vendor_results_without_manifest_single_version_proceeds_saying_nothing_was_verified(delivery):
    _vendor_results(delivery)
    res = tk("detokenize", "results.csv", "back.csv", "--policy", "rp.yaml", "--keyset", "keys.json", "-q")
    assert "nothing verified" in res.output
    assert (delivery / "back.csv").read_text().splitlines()[1:] == [
        "01012345678,paid", "+20 111 234 5678,paid", "0155-123-4567,paid"]


def test_vendor_results_after_rotate_need_the_manifest_or_a_key_version(delivery):
    _vendor_results(delivery)
    tk("keys", "rotate", "keys.json")
    refused(tk("detokenize", "results.csv", "back.csv", "--policy", "rp.yaml", "--keyset", "keys.json", code=None),
            "--manifest")
    res = tk("detokenize", "results.csv", "back.csv", "--policy", "rp.yaml", "--keyset", "keys.json", "-q",
             "--manifest", "out.csv.manifest.json")
    assert "verified against out.csv.manifest.json" in res.output
    assert (delivery / "back.csv").read_text().splitlines()[1] == "01012345678,paid"
    Path("back.csv").unlink()
    Path("back.csv.manifest.json").unlink()
    tk("detokenize", "results.csv", "back.csv", "--policy", "rp.yaml", "--keyset", "keys.json", "-q",
       "--key-version", "1")
    assert (delivery / "back.csv").read_text().splitlines()[1] == "01012345678,paid"


def test_vendor_results_with_a_column_the_delivery_tokenized_otherwise_are_refused(delivery):
    _vendor_results(delivery)
    (delivery / "rp.yaml").write_text("columns:\n  mobile: {type: phone, on_invalid: redact}\n")
    refused(tk("detokenize", "results.csv", "back.csv", "--policy", "rp.yaml", "--keyset", "keys.json",
               "--manifest", "out.csv.manifest.json", code=None), "policy hash mismatch: column 'mobile'")


def test_detokenize_refusal_in_the_real_command(delivery):
    """The installed command, a child process: another keyset is refused with exit 2 and one line on stderr."""
    Keyset.generate().save(delivery / "other.json", passphrase="pw")
    proc = subprocess.run([str(TK), "detokenize", "out.csv", "back.csv", "--policy", "policy.yaml", "--keyset",
                           "other.json"], capture_output=True, text=True, cwd=delivery)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "keyset fingerprint mismatch" in proc.stderr
    assert not (delivery / "back.csv").exists()


# -- verify: authenticity is not checked without the public key ------------------------------------------------------


def _rehash(delivery: Path) -> None:
    """Tamper with the delivery and re-hash its manifest, as anyone could (the signature then fails)."""
    import hashlib
    out = delivery / "out.csv"
    out.write_bytes(out.read_bytes().replace(b"\n", b"\r\n", 1))
    mpath = delivery / "out.csv.manifest.json"
    doc = json.loads(mpath.read_text())
    doc["output"]["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    mpath.write_text(json.dumps(doc))


def test_verify_without_public_key_says_authenticity_was_not_checked(delivery):
    _rehash(delivery)
    res = tk("verify", "out.csv", code=1)
    assert "authenticity was not checked" in res.output and "--public-key" in res.output
    res = tk("verify", "out.csv", "--allow-unsigned")
    assert res.output.startswith("OK (authenticity NOT checked")


def test_verify_with_public_key_stays_strict(delivery):
    tk("keys", "create-signing", "s.pem", "s.pub")
    tk("tokenize", "in.csv", "signed.csv", "--policy", "policy.yaml", "--keyset", "keys.json", "--sign", "s.pem",
       "-q")
    assert tk("verify", "signed.csv", "--public-key", "s.pub").output.startswith("OK:")
    mpath = delivery / "signed.csv.manifest.json"
    doc = json.loads(mpath.read_text())
    doc["rows"] = 4
    mpath.write_text(json.dumps(doc))
    assert "signature is not valid" in tk("verify", "signed.csv", "--public-key", "s.pub", code=1).output
    assert "not signed" in tk("verify", "out.csv", "--public-key", "s.pub", code=1).output


@pytest.mark.parametrize("content", ["{not json", "[]", '{"tool": "tokenize-kit"}',
                                     '{"tool": "tokenize-kit", "output": {"sha256": 5}, "key": {}, "policy": {}, '
                                     '"algorithm": "ff1", "operation": "tokenize"}', "\xff\xfe"])
def test_verify_malformed_manifest_is_one_line_exit_2(delivery, content):
    (delivery / "out.csv.manifest.json").write_text(content, encoding="latin-1")
    res = tk("verify", "out.csv", code=2)
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert "manifest" in res.output


# -- hostile policies and keysets (issue 14 items 1, 2, 5), in the real command process ------------------------------


def command(box: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command in a child process (under an address-space limit of ``limit`` bytes if given)."""
    import resource

    def pre() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {"PATH": "/usr/bin:/bin", "TOKENIZE_KIT_PASSPHRASE": "pw", "HOME": str(box)}
    return subprocess.run([str(TK), *args], capture_output=True, text=True, cwd=box, env=env, timeout=60,
                          preexec_fn=pre)


def one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture()
def box(tmp_path):
    Keyset.generate().save(tmp_path / "keys.json", passphrase="pw")
    (tmp_path / "in.csv").write_text(CSV)
    return tmp_path


def test_policy_with_yaml_aliases_is_refused_at_once(box):
    """The 631-byte policy of issue 14 (nested aliases inside an allowed option) took 70 s and 4.8 GB."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}" if i > 1 else "*a"] * 9) + "]")
    (box / "p.yaml").write_text("columns:\n  id: {type: free_text, cues: *a8}\n" + "\n".join(lines) + "\n")
    proc = command(box, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset", "keys.json",
                   limit=1 << 30)
    one_line_error(proc, "anchors and aliases")
    (box / "p.yaml").write_text("base: &b {type: phone}\ncolumns:\n  mobile: *b\n")
    one_line_error(command(box, "scan", "in.csv", "--policy", "p.yaml"), "anchors and aliases", "line 1")
    assert not (box / "out.csv").exists()


def test_policy_over_the_size_limit_is_refused(box):
    from tokenize_kit.policy import MAX_POLICY_BYTES

    (box / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n" + "#" * MAX_POLICY_BYTES + "\n")
    one_line_error(command(box, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset", "keys.json"),
                   "larger than 1 MiB")


def test_policy_option_types_and_ranges_all_listed_in_one_error(box):
    (box / "p.yaml").write_text(
        "columns:\n"
        "  id: {type: eg_national_id, max_birth_date: yesterday}\n"
        "  mobile: {type: phone, method: mask, mask_char: '**', keep_last: four}\n"
        "  note: {type: phone, method: redact, marker: [a, b]}\n")
    proc = command(box, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset", "keys.json")
    one_line_error(proc, "4 problems", "column 'id': max_birth_date", "column 'mobile': mask_char",
                   "column 'mobile': keep_last", "column 'note': marker")
    assert not (box / "out.csv").exists()


@pytest.mark.parametrize(("option", "fragment"), [
    ("max_birth_date: 1850-01-01", "between 1900-01-02 and 2099-12-31"),
    ("check_digit: yes", "none or luhn"),
    ("keep_last: -1", "from 0 to 1000"),
    ("keep_first: true", "whole number"),
    ("mask_char: ''", "one character"),
    ("regions: [EG, XX]", "EG and SA"),
    ("keep_places: 'no'", "true or false"),
])
def test_policy_option_values_checked(box, option, fragment):
    from tokenize_kit.policy import Policy, PolicyError

    (box / "p.yaml").write_text(f"columns:\n  c: {{type: phone, {option}}}\n")
    with pytest.raises(PolicyError, match=fragment):
        Policy.load(box / "p.yaml")


def test_policy_date_option_is_normalised_so_the_manifest_can_be_written(box):
    (box / "p.yaml").write_text("columns:\n  id: {type: eg_national_id, max_birth_date: 2020-12-31}\n")
    proc = command(box, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset", "keys.json", "-q")
    assert proc.returncode == 0, proc.stderr


def _keyset_doc(box: Path) -> dict:
    return json.loads((box / "keys.json").read_text())


def _write_keyset(box: Path, doc: dict | str) -> None:
    path = box / "keys.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    path.chmod(0o600)


def test_keyset_with_huge_scrypt_cost_fails_fast_in_little_memory(box):
    """n = 2**24 would cost 16.8 GB before "wrong passphrase": refused before deriving, under a 1 GiB address
    space, in seconds."""
    import time

    doc = _keyset_doc(box)
    doc["protection"]["n"] = 2**24
    _write_keyset(box, doc)
    start = time.perf_counter()
    proc = command(box, "keys", "show", "keys.json", limit=1 << 30)
    assert time.perf_counter() - start < 20
    one_line_error(proc, "scrypt parameters", "n=2**15, r=8, p=1")


@pytest.mark.parametrize("change", [{"r": 1 << 20}, {"p": 64}, {"n": 2**10}, {"n": True}, {"kdf": "pbkdf2"}])
def test_keyset_other_scrypt_parameters_refused(box, change):
    doc = _keyset_doc(box)
    doc["protection"].update(change)
    _write_keyset(box, doc)
    proc = command(box, "keys", "show", "keys.json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "keyset keys.json" in proc.stderr


def test_keyset_duplicate_version_refused(box):
    ks = Keyset.generate()
    ks.rotate()
    ks.save(box / "two.json")
    doc = json.loads((box / "two.json").read_text())
    first = doc["keys"]["default"]["versions"][0]
    doc["keys"]["default"]["versions"][1] = dict(first)
    _write_keyset(box, doc)
    one_line_error(command(box, "keys", "show", "keys.json"), "lists version 1 twice")


def test_keyset_duplicate_json_key_refused(box):
    text = (box / "keys.json").read_text()
    _write_keyset(box, text.replace('"keys": {', '"keys": {"default": {"primary": 1, "versions": []}, ', 1))
    one_line_error(command(box, "keys", "show", "keys.json"), "given twice")


def test_keyset_readable_by_others_warns_and_strict_refuses(box):
    (box / "keys.json").chmod(0o644)
    proc = command(box, "keys", "show", "keys.json")
    assert proc.returncode == 0 and "readable by group or others (mode 0644)" in proc.stderr
    assert "chmod 600 keys.json" in proc.stderr
    one_line_error(command(box, "--strict", "keys", "show", "keys.json"), "refused under --strict")
    (box / "p.yaml").write_text(POLICY)
    one_line_error(command(box, "--strict", "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset",
                           "keys.json"), "readable by group or others")
    assert not (box / "out.csv").exists()
    (box / "keys.json").chmod(0o600)
    proc = command(box, "--strict", "keys", "show", "keys.json")
    assert proc.returncode == 0 and "warning" not in proc.stderr
