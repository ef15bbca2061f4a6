"""A standalone Spark cluster on this machine for the cluster test and bench: one master and ``workers`` workers
started from the pyspark package's own ``spark-class`` launcher, bound to 127.0.0.1 (``SPARK_LOCAL_IP``), each
leading its own process group so :func:`stop` ends the JVMs and their children whatever happened.  Java 17 is the
only other need; no ``SPARK_HOME`` is used."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_class() -> Path:
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not path.exists():
        raise RuntimeError(f"pyspark has no spark-class launcher at {path}")
    return path


def _wait(what: str, ok: Callable[[], bool], procs: list[subprocess.Popen], logs: Path, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a cluster process exited ({p.returncode}) before {what}; logs in {logs}")
        try:
            if ok():
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{what}: not after {timeout:.0f} s; logs in {logs}")


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop every process this test started (each leads its own process group: the JVM and its children)."""
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in reversed(procs):
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def start_cluster(tmp: Path, workers: int = 2, cores: int = 1) -> tuple[str, int, list[subprocess.Popen]]:
    """A master and ``workers`` workers on 127.0.0.1; returns (master URL, web UI port, processes).  The caller
    stops them with :func:`stop` (a failed start stops what it started)."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOCAL_HOSTNAME": "localhost",
           "PYSPARK_PYTHON": sys.executable, "SPARK_LOG_DIR": str(tmp), "SPARK_WORKER_DIR": str(tmp / "work")}
    env.pop("SPARK_HOME", None)
    port, ui = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    def launch(name: str, *args: str) -> None:
        log = open(tmp / f"{name}.log", "wb")
        procs.append(subprocess.Popen([str(_spark_class()), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))

    try:
        launch("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
               "--webui-port", str(ui))
        _wait("the master listens", lambda: socket.create_connection(("127.0.0.1", port), 1).close() is None,
              procs, tmp)
        for i in range(workers):
            launch(f"worker{i}", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                   "--cores", str(cores), "--memory", "1g", "--webui-port", str(_free_port()),
                   "--work-dir", str(tmp / f"work{i}"))

        def alive() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as r:
                return int(json.load(r).get("aliveworkers", 0)) >= workers

        _wait(f"{workers} workers registered", alive, procs, tmp)
    except BaseException:
        stop(procs)
        raise
    return url, ui, procs


def session(url: str, app: str = "tokenize-kit-cluster-test") -> Any:
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(url).appName(app)
            .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.executor.memory", "1g").config("spark.executor.cores", "1")
            .config("spark.cores.max", "2").config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4").config("spark.driver.memory", "1g")
            .config("spark.ui.showConsoleProgress", "false").getOrCreate())
