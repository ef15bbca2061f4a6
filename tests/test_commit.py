"""The commit protocol of OUTPUT + manifest (issue 13 item 2), nothing overwritten without --force (item 4) and
write errors as one-line messages (issue 14 item 3), each in the real command process (``python -m tokenize_kit``).

Failures are injected in two ways, said per test: real ones (a small tmpfs that fills up, a tmpfs remounted
read-only, a folder another user may not write, signals sent to the process), and a hook in the command process
(``tokenize_kit.commit._before_step``, set by a wrapper script before ``main()`` runs) where the failure must
happen at one exact step of the commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

SECRET_ID = "29801010123456"
POLICY = "columns:\n  id: {type: eg_national_id}\n  phone: {type: phone}\n"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    ks = tmp_path / "keys.json"
    Keyset.generate().save(ks, passphrase="pw")
    monkeypatch.setenv("TOKENIZE_KIT_KEYSET", str(ks))
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(POLICY)
    return tmp_path


def write_input(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id,phone\n")
        fh.writelines(f"{SECRET_ID[:9]}{i // 10 % 10_000:04d}{i % 10},010{i:08d}\n" for i in range(n))
    return path


def tk(*args: str, cwd: Path | None = None, hook: str | None = None, **kw) -> subprocess.CompletedProcess:
    """The command in its own process; ``hook``: the body of ``hook(step, path)`` run before each commit step."""
    if hook is None:
        argv = [sys.executable, "-m", "tokenize_kit", *args]
    else:
        script = HOOKED.replace("BODY", "\n".join("    " + line for line in hook.strip().splitlines()))
        argv = [sys.executable, "-c", script, *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=300, **kw)


HOOKED = """
import errno, os, signal, sys, time
from pathlib import Path
import tokenize_kit.commit as commit

def hook(step, path):
BODY

commit._before_step = hook
from tokenize_kit.cli import main
sys.argv = ["tokenize-kit", *sys.argv[1:]]
main()
"""


def side_files(folder: Path) -> list[str]:
    """Partial or set-aside files left in ``folder`` (ours are hidden: ``.NAME.<pid>-<hex>.partial``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".previous")))


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def deliver(env: Path, out: str = "out.csv", *extra: str, n: int = 50) -> subprocess.CompletedProcess:
    if not (env / "in.csv").exists():
        write_input(env / "in.csv", n)
    return tk("tokenize", "in.csv", out, "--policy", "p.yaml", "-q", *extra, cwd=env)


# -- the commit protocol --------------------------------------------------------------------------------------
def test_manifest_is_placed_before_output_both_complete(env):
    """At the moment OUTPUT is placed its manifest is already in place and complete, and OUTPUT's partial file is
    complete (the manifest's hash matches it): the pair is built before either is renamed."""
    hook = """
if step == "place" and path.name == "out.csv":
    import hashlib, json
    doc = json.loads(Path("out.csv.manifest.json").read_text())
    partial = [p for p in Path(".").iterdir() if p.name.startswith(".out.csv.") and p.name.endswith(".partial")]
    digest = hashlib.sha256(partial[0].read_bytes()).hexdigest()
    Path("seen.txt").write_text(f"{len(partial)} {digest == doc['output']['sha256']} {Path('out.csv').exists()}")
"""
    res = tk("tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q", cwd=write_input(env / "in.csv", 50).parent,
             hook=hook)
    assert res.returncode == 0, res.stderr
    assert (env / "seen.txt").read_text() == "1 True False"
    assert tk("verify", "out.csv", "--allow-unsigned", cwd=env).returncode == 0
    assert side_files(env) == []


@pytest.mark.parametrize("existing", ["out.csv", "out.csv.manifest.json"])
def test_existing_output_or_manifest_refused(env, existing):
    (env / existing).write_text("keep")
    res = deliver(env)
    assert res.returncode == 2
    assert f"{existing} already exists" in one_line(res.stderr) and "--force" in res.stderr
    assert (env / existing).read_text() == "keep"
    assert sorted(p.name for p in env.iterdir() if p.name.startswith(("out.", ".out"))) == [existing]


def test_two_concurrent_writers_one_wins_the_other_leaves_nothing(env):
    """Both jobs pass the early existence check, then wait at the commit until both are there; released together,
    one places its pair, the other gets a clear error (exit 2) and leaves nothing; the pair on disk is whole."""
    write_input(env / "in.csv", 2000)
    (env / "in2.csv").write_text((env / "in.csv").read_text().replace(",010", ",011"))
    hook = """
if step == "place" and path.name == "out.csv.manifest.json":
    Path(f"ready-{os.getpid()}").touch()
    while not Path("go").exists():
        time.sleep(0.01)
"""
    procs = [subprocess.Popen([sys.executable, "-c", HOOKED.replace("BODY", "\n".join(
        "    " + line for line in hook.strip().splitlines())), "tokenize", src, "out.csv", "--policy", "p.yaml", "-q"],
        cwd=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for src in ("in.csv", "in2.csv")]
    deadline = time.time() + 120
    while len(list(env.glob("ready-*"))) < 2 and time.time() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    assert len(list(env.glob("ready-*"))) == 2, [p.communicate() for p in procs]
    (env / "go").touch()
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "appeared while this job ran" in one_line(loser) and "--force" in loser
    assert tk("verify", "out.csv", "--allow-unsigned", cwd=env).returncode == 0  # (the manifest describes the OUTPUT)
    assert side_files(env) == []


@pytest.mark.parametrize("step", ["place", "set-aside"])
def test_force_keeps_the_previous_delivery_when_the_commit_fails(env, step):
    """--force: a failure while the new pair is being placed (injected: ENOSPC raised before placing OUTPUT, after
    the new manifest is in place; or before setting the old OUTPUT aside) puts the previous pair back, byte for
    byte, and leaves no partial or set-aside file."""
    assert deliver(env).returncode == 0
    before = {name: (env / name).read_bytes() for name in ("out.csv", "out.csv.manifest.json")}
    (env / "in.csv").write_text((env / "in.csv").read_text().replace(",010", ",012"))  # a different delivery
    hook = f"""
if step == {step!r} and path.name == "out.csv":
    raise OSError(errno.ENOSPC, "No space left on device")
"""
    res = tk("tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q", "--force", cwd=env, hook=hook)
    assert res.returncode == 2, res.stderr
    assert "no space left" in one_line(res.stderr) and "out.csv" in res.stderr
    assert {name: (env / name).read_bytes() for name in before} == before
    assert side_files(env) == []


def test_force_replaces_the_pair_and_removes_the_previous(env):
    assert deliver(env).returncode == 0
    (env / "in.csv").write_text((env / "in.csv").read_text().replace(",010", ",012"))
    old = (env / "out.csv").read_bytes()
    assert deliver(env, "out.csv", "--force").returncode == 0
    assert (env / "out.csv").read_bytes() != old
    assert tk("verify", "out.csv", "--allow-unsigned", cwd=env).returncode == 0
    assert side_files(env) == []


@pytest.mark.parametrize("force", [False, True])
def test_signal_during_the_commit_is_deferred_then_undoes_it(env, force):
    """SIGTERM sent by the process to itself between placing the manifest and placing OUTPUT: the placing is not
    cut in half; at its end the commit is undone (the previous pair back with --force), then the signal ends the
    job with 128 + 15 and nothing new is left."""
    if force:
        assert deliver(env).returncode == 0
        (env / "in.csv").write_text((env / "in.csv").read_text().replace(",010", ",012"))
    else:
        write_input(env / "in.csv", 50)
    before = {p.name: p.read_bytes() for p in env.iterdir() if p.name.startswith("out.csv")}
    hook = """
if step == "place" and path.name == "out.csv":
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)  # (a handler that did not defer would run here, between the two renames)
    Path("survived").touch()
"""
    res = tk("tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q", *(["--force"] if force else []), cwd=env,
             hook=hook)
    assert res.returncode == 128 + signal.SIGTERM, res.stderr
    assert (env / "survived").exists()
    assert {p.name: p.read_bytes() for p in env.iterdir() if p.name.startswith("out.csv")} == before
    assert side_files(env) == []


# -- signals and killed jobs ----------------------------------------------------------------------------------
def _default_signals() -> None:
    """The child starts with the default signal dispositions a job started from a terminal has (a test runner's
    worker may ignore SIGINT, and an ignored signal stays ignored by design)."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def start_big_job(env: Path, *extra: str) -> subprocess.Popen:
    write_input(env / "big.csv", 1_000_000)
    return subprocess.Popen([sys.executable, "-m", "tokenize_kit", "tokenize", "big.csv", "out.csv", "--policy",
                             "p.yaml", "--batch-size", "20000", "-q", *extra], cwd=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_signals)


def wait_first_batch(env: Path, proc: subprocess.Popen) -> None:
    """Until the first batch is in the partial output file (a deterministic point, not a fixed sleep)."""
    def written() -> int:
        total = 0
        for p in env.glob(".out.csv.*.partial"):
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
        return total

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and written() == 0:
        time.sleep(0.01)
    assert written() > 0 and proc.poll() is None, "no batch was written before the job ended"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 2)])
def test_sigterm_sighup_sigint_leave_nothing(env, sig, code):
    proc = start_big_job(env)
    wait_first_batch(env, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"Traceback" not in err
    assert not (env / "out.csv").exists() and not (env / "out.csv.manifest.json").exists()
    assert side_files(env) == []


def test_an_ignored_sighup_stays_ignored(env):
    """Under nohup (SIGHUP ignored) closing the terminal must not end the job: only signals that would have ended
    it are turned into a clean exit."""
    write_input(env / "big.csv", 200_000)
    proc = subprocess.Popen([sys.executable, "-m", "tokenize_kit", "tokenize", "big.csv", "out.csv", "--policy",
                             "p.yaml", "--batch-size", "10000", "-q"], cwd=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    wait_first_batch(env, proc)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=900)  # (the job runs to its end: minutes on a loaded machine)
    assert proc.returncode == 0, err
    assert tk("verify", "out.csv", "--allow-unsigned", cwd=env).returncode == 0


def test_sigkill_leaves_a_partial_that_the_next_job_removes(env):
    proc = start_big_job(env)
    wait_first_batch(env, proc)
    proc.kill()
    proc.wait(timeout=60)
    left = side_files(env)
    assert left and all(name.startswith(f".out.csv.{proc.pid}-") for name in left)
    assert not (env / "out.csv").exists()
    time.sleep(1.1)  # (the stale file must be older than the next job; mtime has 1 s granularity on some systems)
    (env / "small.csv").write_text("id,phone\n29801010123456,01012345678\n")
    res = tk("tokenize", "small.csv", "out.csv", "--policy", "p.yaml", "-q", cwd=env)
    assert res.returncode == 0, res.stderr
    assert side_files(env) == []


def test_stale_partials_dead_pid_removed_live_pid_kept(env):
    """Partial files of our naming older than the job: a dead writer's are removed, a live process's are kept, other
    hidden files are never touched."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 60
    stale = env / f".out.csv.{dead.pid}-0123abcd.partial"
    stale_manifest = env / f".out.csv.manifest.json.{dead.pid}-0123abcd.partial"
    live = env / f".out.csv.{os.getpid()}-4567cdef.partial"  # (this test process: alive, started before the file)
    other = env / ".out.csv.notours.partial"
    for p in (stale, stale_manifest, live, other):
        p.write_bytes(b"half a delivery")
    for p in (stale, stale_manifest, other):
        os.utime(p, (old, old))
    res = deliver(env)
    assert res.returncode == 0, res.stderr
    assert not stale.exists() and not stale_manifest.exists()
    assert live.exists() and other.exists()


def test_a_set_aside_previous_of_a_killed_job_is_put_back(env):
    """A job killed (SIGKILL) in the middle of a --force commit leaves the previous OUTPUT set aside; the next job
    writing there puts it back when OUTPUT is missing (simulated: the set-aside file as the killed job leaves it)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    aside = env / f".out.csv.{dead.pid}-89abcdef.previous"
    aside.write_text("the previous delivery")
    os.utime(aside, (time.time() - 60, time.time() - 60))
    res = deliver(env)
    assert res.returncode == 2 and "out.csv already exists" in res.stderr  # (put back, so not overwritten)
    assert (env / "out.csv").read_text() == "the previous delivery"
    assert side_files(env) == []


# -- write errors (issue 14 item 3) ---------------------------------------------------------------------------
@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m"):
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                                            str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_real_tmpfs(env):
    """A 1 MB tmpfs: the delivery does not fit.  One line naming OUTPUT and ENOSPC, exit 2, nothing left."""
    write_input(env / "in.csv", 40_000)  # ~1.3 MB of output
    with tmpfs(env / "small") as box:
        res = tk("tokenize", "in.csv", str(box / "out.csv"), "--policy", "p.yaml", "-q", cwd=env)
        assert res.returncode == 2, res.stderr
        line = one_line(res.stderr)
        assert "out.csv" in line and "ENOSPC" in line and SECRET_ID[:9] not in line
        assert list(box.iterdir()) == []


def test_disk_full_at_the_manifest_keeps_the_previous_delivery(env):
    """A real tmpfs filled so that the new OUTPUT's partial fits and its manifest does not: with --force the
    previous pair stays byte-identical and nothing else is left."""
    write_input(env / "in.csv", 2000)
    with tmpfs(env / "small") as box:
        assert tk("tokenize", "in.csv", str(box / "out.csv"), "--policy", "p.yaml", "-q", cwd=env).returncode == 0
        before = {p.name: p.read_bytes() for p in box.iterdir()}
        (env / "in.csv").write_text((env / "in.csv").read_text().replace(",010", ",012"))
        size = (box / "out.csv").stat().st_size  # (the new output has the same size: same layout)
        st = os.statvfs(box)
        free = st.f_bavail * st.f_frsize
        page = st.f_frsize
        (box / "filler").write_bytes(b"\0" * (free - -(-size // page) * page))
        res = tk("tokenize", "in.csv", str(box / "out.csv"), "--policy", "p.yaml", "-q", "--force", cwd=env)
        assert res.returncode == 2, res.stderr
        line = one_line(res.stderr)
        assert "out.csv.manifest.json" in line and "ENOSPC" in line
        (box / "filler").unlink()
        assert {p.name: p.read_bytes() for p in box.iterdir()} == before


def test_read_only_folder_real_mount(env):
    write_input(env / "in.csv", 50)
    with tmpfs(env / "ro") as box:
        subprocess.run(["mount", "-o", "remount,ro", str(box)], check=True)
        res = tk("tokenize", "in.csv", str(box / "out.csv"), "--policy", "p.yaml", "-q", cwd=env)
        assert res.returncode == 2, res.stderr
        line = one_line(res.stderr)
        assert "out.csv" in line and "read-only" in line and "EROFS" in line


def test_permission_denied_real(env):
    """A folder owned by another user (mode 0755), the command run by root without the capabilities that let root
    ignore file modes (``setpriv --bounding-set=-all``): a real EACCES."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    write_input(env / "in.csv", 50)
    (env / "locked").mkdir(mode=0o755)
    os.chown(env / "locked", 65534, 65534)
    res = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-m", "tokenize_kit",
                          "tokenize", "in.csv", "locked/out.csv", "--policy", "p.yaml", "-q"],
                         capture_output=True, text=True, cwd=env, timeout=120)
    assert res.returncode == 2, res.stderr
    line = one_line(res.stderr)
    assert "locked/out.csv" in line and "EACCES" in line
    assert list((env / "locked").iterdir()) == []


def test_memory_error_is_one_line_and_leaves_nothing(env):
    """MemoryError injected in the command process (a real one depends on the machine) while the first batch is
    transformed."""
    write_input(env / "in.csv", 50)
    script = """
import sys
import tokenize_kit.pipeline as pipeline
def boom(*a, **k):
    raise MemoryError
pipeline.transform_table = boom
from tokenize_kit.cli import main
sys.argv = ["tokenize-kit", *sys.argv[1:]]
main()
"""
    res = subprocess.run([sys.executable, "-c", script, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q",
                          "--threads", "1"], capture_output=True, text=True, cwd=env, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "out of memory" in one_line(res.stderr)
    assert not (env / "out.csv").exists() and side_files(env) == []


# -- nothing overwritten without --force (issue 13 item 4) ----------------------------------------------------
def test_detokenize_refuses_existing_output(env):
    assert deliver(env).returncode == 0
    (env / "back.csv").write_text("mine")
    res = tk("detokenize", "out.csv", "back.csv", "--policy", "p.yaml", "-q", cwd=env)
    assert res.returncode == 2 and "back.csv already exists" in one_line(res.stderr)
    assert (env / "back.csv").read_text() == "mine"
    res = tk("detokenize", "out.csv", "back.csv", "--policy", "p.yaml", "-q", "--force", cwd=env)
    assert res.returncode == 0, res.stderr
    assert (env / "back.csv").read_bytes() == (env / "in.csv").read_bytes()


def test_demo_keeps_a_folder_it_did_not_create(env):
    (env / "mine").mkdir()
    (env / "mine" / "thesis.txt").write_text("years of work")
    res = tk("demo", "--rows", "50", "--out", "mine", cwd=env)
    assert res.returncode == 2 and "did not create" in res.stderr and "--force" in res.stderr
    assert sorted(p.name for p in (env / "mine").iterdir()) == ["thesis.txt"]
    # an earlier demo's folder: only the demo's own files are replaced, a file added there stays
    assert tk("demo", "--rows", "50", "--out", "demo", cwd=env).returncode == 0
    (env / "demo" / "notes.txt").write_text("mine")
    (env / "demo" / "delivery" / "mine.csv").write_text("mine")
    res = tk("demo", "--rows", "50", "--out", "demo", cwd=env)
    assert res.returncode == 0, res.stderr
    assert (env / "demo" / "notes.txt").read_text() == "mine"
    assert (env / "demo" / "delivery" / "mine.csv").read_text() == "mine"
    res = tk("demo", "--rows", "50", "--out", "mine", "--force", cwd=env)
    assert res.returncode == 0, res.stderr
    assert not (env / "mine" / "thesis.txt").exists()


def test_generate_refuses_existing_files(env):
    (env / "fx").mkdir()
    (env / "fx" / "customers.csv").write_text("mine")
    args = ("generate", "eg-consumer-finance", "fx", "--rows", "20", "--format", "csv", "-q")
    res = tk(*args, cwd=env)
    assert res.returncode == 2 and "customers.csv already exists" in one_line(res.stderr)
    assert sorted(p.name for p in (env / "fx").iterdir()) == ["customers.csv"]  # no other table written either
    assert (env / "fx" / "customers.csv").read_text() == "mine"
    assert tk(*args, "--force", cwd=env).returncode == 0
    assert (env / "fx" / "customers.csv").read_text() != "mine"
    assert side_files(env / "fx") == []


def test_keys_create_and_create_signing_refuse_existing_files(env):
    before = (env / "keys.json").read_bytes()
    res = tk("keys", "create", "keys.json", cwd=env)
    assert res.returncode == 2 and "already exists" in one_line(res.stderr) and "--force" in res.stderr
    assert (env / "keys.json").read_bytes() == before
    assert tk("keys", "create", "keys.json", "--force", cwd=env).returncode == 0
    assert (env / "keys.json").read_bytes() != before
    assert (env / "keys.json").stat().st_mode & 0o777 == 0o600
    (env / "sign.pub").write_text("mine")
    res = tk("keys", "create-signing", "sign.pem", "sign.pub", cwd=env)
    assert res.returncode == 2 and "sign.pub already exists" in one_line(res.stderr)
    assert not (env / "sign.pem").exists() and (env / "sign.pub").read_text() == "mine"  # (one commit: neither)
    assert tk("keys", "create-signing", "sign.pem", "sign.pub", "--force", cwd=env).returncode == 0
    assert (env / "sign.pem").stat().st_mode & 0o777 == 0o600
    assert side_files(env) == []


def test_keys_rotate_rewrites_in_place_atomically(env):
    res = tk("keys", "rotate", "keys.json", cwd=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads((env / "keys.json").read_text())
    assert [v["version"] for v in doc["keys"]["default"]["versions"]] == [1, 2]
    assert (env / "keys.json").stat().st_mode & 0o777 == 0o600
    assert side_files(env) == [] and not [p for p in env.iterdir() if p.name.endswith(".tmp")]


def test_scan_suggest_policy_and_risk_chart_refuse_existing_files(env):
    write_input(env / "in.csv", 50)
    (env / "taken.yaml").write_text("mine")
    res = tk("scan", "in.csv", "--suggest-policy", "taken.yaml", cwd=env)
    assert res.returncode == 2 and "taken.yaml already exists" in one_line(res.stderr)
    assert (env / "taken.yaml").read_text() == "mine"
    assert tk("scan", "in.csv", "--suggest-policy", "taken.yaml", "--force", cwd=env).returncode == 1  # (PII found)
    assert (env / "taken.yaml").read_text() != "mine"
    (env / "chart.html").write_text("mine")
    res = tk("risk", "in.csv", "--quasi", "phone", "--chart", "chart.html", cwd=env)
    assert res.returncode == 2 and "chart.html already exists" in res.stderr
    assert (env / "chart.html").read_text() == "mine"


@pytest.mark.parametrize("content", [
    b"{not json " + SECRET_ID.encode(),
    b"\xff\xfe" + SECRET_ID.encode(),
    json.dumps([SECRET_ID]).encode(),
    json.dumps({"output": SECRET_ID}).encode(),
    json.dumps({"output": {"sha256": 7}, "rows": SECRET_ID}).encode(),
    json.dumps({"output": {"sha256": "0" * 64}, "rows": 1, "signature": SECRET_ID}).encode(),
    b"[" * 100_000,
])
def test_malformed_manifest_is_one_line_exit_2(env, content):
    """verify on a manifest that is not a manifest: one line naming it and what is wrong, no value of it, exit 2."""
    assert deliver(env).returncode == 0
    (env / "out.csv.manifest.json").write_bytes(content)
    res = tk("verify", "out.csv", cwd=env)
    assert res.returncode == 2, res.stderr
    line = one_line(res.stderr)
    assert "out.csv.manifest.json" in line and SECRET_ID not in line


def test_csv_error_is_one_line_and_leaves_nothing(env):
    """Python's strict CSV parser (run when a cell holds a line break) raising csv.Error on a quote closed
    mid-field: one line naming the line, exit 2, no partial file."""
    (env / "in.csv").write_text(f'id,phone\n{SECRET_ID},"0101\n2345678"\n{SECRET_ID},"010"12345678\n')
    res = deliver(env)
    assert res.returncode == 2, res.stderr
    line = one_line(res.stderr)
    assert "line 4" in line and SECRET_ID not in line
    assert not (env / "out.csv").exists() and side_files(env) == []
