"""The fleet check of `make images-test`: `vedliot-aggregator fleet run` over two real Docker
engines (this machine's, and a second dockerd with its own socket and data root, reached through a
Docker context), with a third device whose engine does not exist and a fourth asking for a runtime
the engine lacks. The second engine is stopped mid-run; a second call resumes:
the finished device is not repeated, the stopped one runs again, and `--report` renders.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGGREGATOR = REPO / ".venv" / "bin" / "vedliot-aggregator"


class Engine:
    """A second dockerd: own socket, data and exec roots, in a network namespace of its own (a
    dockerd with `--bridge none` on the host's network deletes the first engine's docker0)."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "docker.sock"
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["/usr/bin/docker", "-H", self.host, *args], capture_output=True, text=True, **kwargs)

    def start(self) -> None:
        self.stop()  # never two daemons on one data root (the mid-run stop may not have happened)
        # unshare --net, not `ip netns exec`: that remounts /sys, and dockerd then finds no cgroups.
        command = ["unshare", "--net", "dockerd", "--host", self.host, "--data-root",
                   str(self.root / "data"), "--exec-root", str(self.root / "exec"), "--pidfile",
                   str(self.root / "dockerd.pid"), "--bridge", "none", "--iptables=false",
                   "--ip-masq=false"]  # fmt: skip
        log = open(self.root / "dockerd.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.cli("info").returncode != 0:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"second dockerd did not start: {(self.root / 'dockerd.log').read_text()[-400:]}")
            time.sleep(1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=120)
        self.process = None


@contextlib.contextmanager
def second_engine():
    # Beside /var/lib/docker (same file system: overlay2 needs one that supports it, /tmp may not).
    root = Path(tempfile.mkdtemp(prefix="vedliot-engine-", dir="/var/tmp"))
    engine = Engine(root)
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
        subprocess.run(["umount", "--recursive", "--lazy", str(root / "data")], capture_output=True)
        subprocess.run(["rm", "-rf", str(root)], check=False)


@contextlib.contextmanager
def context_for(engine: Engine):
    """A Docker context naming the second engine, as a user's `docker context create` would: the
    fleet file reaches it by name."""
    name = f"vedliot-test-{engine.root.name[-8:]}"
    subprocess.run(["/usr/bin/docker", "context", "create", name, "--docker", f"host={engine.host}"], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield name
    finally:
        subprocess.run(["/usr/bin/docker", "context", "rm", "-f", name], capture_output=True)


def load_into(engine: Engine, docker: str, image: str) -> None:
    """Copies the image into the second engine; a failure (a full disk, most often) says so here
    instead of as the fleet's "cannot pull it" three minutes later."""
    save = subprocess.Popen([docker, "save", image], stdout=subprocess.PIPE)
    loaded = engine.cli("load", stdin=save.stdout)
    save.stdout.close()
    if save.wait() != 0 or loaded.returncode != 0:
        free = shutil.disk_usage(engine.root).free / 1e9
        raise RuntimeError(f"loading {image} into the second engine failed ({free:.1f} GB free on "
                           f"{engine.root}): {loaded.stderr.strip()[-300:]}")  # fmt: skip


def _fleet_file(path: Path, image: str, models: str, engine: str) -> None:
    path.write_text(
        f"defaults:\n  image: {image}\n  args: [--quick, --models, {models}]\n"
        "devices:\n  here: {}\n"
        f"  second:\n    engine: {engine}\n    args: [--quick, --models, {models}, --min-seconds, '10']\n"
        "  nowhere:\n    engine: unix:///nonexistent/docker.sock\n"
        # The device flags reach the engine: this one has no nvidia runtime and must refuse.
        "  gpu:\n    runtime: nvidia\n    gpus: all\n    devices: [/dev/null]\n",
        encoding="utf-8",
    )


def _fleet(fleet_file: Path, into: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(AGGREGATOR), "fleet", "run", str(fleet_file), "--into", str(into), "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _statuses(directory: Path) -> list[str]:
    return sorted(json.loads(p.read_text()).get("status") for p in directory.glob("*.json"))


def _stop_mid_run(engine: Engine, container: str, timeout: float = 180) -> bool:
    """Stops the engine once its fleet container has run for a while; True when it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = engine.cli("ps", "-q", "--filter", f"name={container}").stdout.strip()
        if running:
            time.sleep(6)  # past the model load, inside the timed window
            engine.stop()
            return True
        time.sleep(1)
    return False


def _leftovers(docker: str, engine: Engine) -> list[str]:
    found = []
    for cli in ([docker], ["/usr/bin/docker", "-H", engine.host]):
        names = subprocess.run([*cli, "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
        found += [n for n in names.split() if n.startswith("vedliot-fleet-")]
    return found


def check_fleet(docker: str, image: str, models: str, root: Path) -> list[dict]:
    started = time.monotonic()
    try:
        return _check_fleet(docker, image, models, root)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as exc:
        return [_check("fleet over two engines", False, started, None, f"{type(exc).__name__}: {exc}")]


def _check_fleet(docker: str, image: str, models: str, root: Path) -> list[dict]:
    checks: list[dict] = []
    started = time.monotonic()
    with second_engine() as engine, context_for(engine) as context:
        load_into(engine, docker, image)
        fleet_file, into = root / "fleet.yaml", root / "fleet"
        _fleet_file(fleet_file, image, models, context)
        volumes_before = subprocess.run([docker, "volume", "ls", "-q"], capture_output=True, text=True).stdout
        first = _fleet(fleet_file, into)
        stopped = _stop_mid_run(engine, "vedliot-fleet-second")
        out, err = first.communicate(timeout=600)
        summary = json.loads(out or "{}")
        by = {d["device"]: d for d in summary.get("devices", [])}
        ok = (first.returncode == 1 and stopped and by.get("here", {}).get("status") == "done"
              and by.get("second", {}).get("status") == "failed" and by.get("nowhere", {}).get("status") == "failed"
              and by.get("gpu", {}).get("status") == "failed" and "nvidia" in by.get("gpu", {}).get("message", "")
              and "ok" in _statuses(into / "here") and "failed" in _statuses(into / "nowhere")
              and "failed" in _statuses(into / "second"))  # fmt: skip
        checks.append(_check("fleet over two engines, one stopped mid-run", ok, started, first.returncode,
                             err or out))  # fmt: skip
        here_before = _statuses(into / "here")
        engine.start()
        again = time.monotonic()
        second = _fleet(fleet_file, into, "--report")
        out, err = second.communicate(timeout=600)
        by = {d["device"]: d for d in json.loads(out or "{}").get("devices", [])}
        ok = (second.returncode == 1 and by.get("here", {}).get("status") == "skipped"
              and _statuses(into / "here") == here_before and by.get("second", {}).get("status") == "done"
              and "ok" in _statuses(into / "second") and (into / "report" / "index.html").is_file())  # fmt: skip
        checks.append(_check("fleet resumes: the finished device skipped, the stopped one rerun, report", ok,
                             again, second.returncode, err or out))  # fmt: skip
        volumes_after = subprocess.run([docker, "volume", "ls", "-q"], capture_output=True, text=True).stdout
        left = _leftovers(docker, engine)
        checks.append(_check("fleet leaves no container or volume", not left and volumes_before == volumes_after,
                             again, None, " ".join(left)))  # fmt: skip
    return checks


def _check(label: str, ok: bool, started: float, code, output: str) -> dict:
    lines = (output or "").strip().splitlines()
    return {"image": "fleet", "check": label, "ok": bool(ok), "seconds": round(time.monotonic() - started, 1),
            "exit": code, "last": lines[-1] if lines else ""}  # fmt: skip
