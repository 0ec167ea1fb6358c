"""Checks of `make images-test` on how the built images behave beyond a good run: bad usage gives
one line and a non-zero exit, the image carries what its labels promise, the x86 images share one
zoo layer, the aggregator image has the tested Docker SDK, and `pull --image` against the real
engine copies records that name the image's digest and leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGGREGATOR = REPO / ".venv" / "bin" / "vedliot-aggregator"
NOISE = re.compile(r"Traceback|Permission denied|telemetry|Read-only file system", re.I)


def _check(image: str, label: str, ok: bool, started: float, code, output: str) -> dict:
    lines = (output or "").strip().splitlines()
    return {"image": image, "check": label, "ok": bool(ok), "seconds": round(time.monotonic() - started, 1),
            "exit": code, "last": lines[-1] if lines else ""}  # fmt: skip


def _run(docker: str, *args: str) -> tuple[int, str]:
    done = subprocess.run([docker, "run", "--rm", *args], capture_output=True, text=True)
    return done.returncode, (done.stdout + done.stderr).strip()


def _one_line(code: int, output: str, *words: str) -> bool:
    """A refusal: non-zero, one line (whatever the runtime printed before it), no traceback, and the
    line says what it is about."""
    last = output.splitlines()[-1] if output else ""
    return code != 0 and "Traceback" not in output and all(w in last for w in words)


def misuse(docker: str, image: str, suite: list[str], root: Path, aggregator: bool = False) -> list[dict]:
    """Read-only /results, /results owned by someone else, an unknown argument."""
    checks = []
    safe = image.replace("/", "_").replace(":", "_")  # a ':' in a -v source splits it
    readonly, foreign = root / f"ro-{safe}", root / f"foreign-{safe}"
    for directory in (readonly, foreign):
        directory.mkdir()
    os.chown(readonly, 10001, 10001)
    os.chown(foreign, 0, 0)
    os.chmod(foreign, 0o755)
    cases = (
        ("read-only /results refused in one line", ["-v", f"{readonly}:/results:ro", image, *suite], ("/results",)),
        ("foreign-owned /results refused, with the --user hint", ["-v", f"{foreign}:/results", image, *suite],
         ("/results", "--user")),
        ("unknown argument refused in one line", ["-v", f"{readonly}:/results", image, "--no-such-option"],
         ("--no-such-option",)),
    )  # fmt: skip
    for label, args, words in cases:
        if aggregator:
            args = [a for a in args if a not in suite]
        started = time.monotonic()
        code, output = _run(docker, *args)
        checks.append(_check(image, label, _one_line(code, output, *words), started, code, output))
    return checks


def quiet_runs(image: str, outputs: dict[str, str]) -> dict:
    """The runs as 10001 and as another --user printed no warning (telemetry ids, HOME, caches)."""
    noisy = {label: NOISE.search(text).group(0) for label, text in outputs.items() if NOISE.search(text)}
    return {"image": image, "check": "no warning under any UID (telemetry, HOME)", "ok": not noisy, "seconds": 0,
            "exit": None, "last": json.dumps(noisy)}  # fmt: skip


def licence(docker: str, image: str) -> dict:
    started = time.monotonic()
    form = '{{index .Config.Labels "org.opencontainers.image.licenses"}}'
    label = subprocess.run(
        [docker, "image", "inspect", "-f", form, image], capture_output=True, text=True
    ).stdout.strip()
    code, text = _run(docker, "--entrypoint", "head", image, "-n", "3", "/usr/share/doc/vedliot-bench/LICENSE")
    ok = label == "Apache-2.0" and code == 0 and "Apache License" in text and "Version 2.0" in text
    return _check(image, "the licence the label names is in the image", ok, started, code, label + " " + text)


def shared_zoo(docker: str, images: list[str], base: str) -> dict:
    """The x86 runner images share the zoo layer (and not only the base's layers)."""
    started = time.monotonic()
    layers = []
    for image in [*images, base]:
        out = subprocess.run([docker, "image", "inspect", "-f", "{{json .RootFS.Layers}}", image], capture_output=True,
                             text=True).stdout  # fmt: skip
        layers.append(set(json.loads(out or "[]")))
    *runners, base_layers = layers
    shared = set.intersection(*runners) - base_layers if runners else set()
    return _check(", ".join(images), "the x86 images share the zoo layer", len(shared) >= 1, started, None,
                  f"{len(shared)} shared layers beyond the base {base}")  # fmt: skip


def pinned_sdk(docker: str, image: str) -> dict:
    """The aggregator image has the Docker SDK and paramiko CI tested (requirements/constraints.txt)."""
    started = time.monotonic()
    pins = dict(line.split("==") for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))  # fmt: skip
    probe = "import docker, paramiko; print(docker.__version__, paramiko.__version__)"
    code, out = _run(docker, "--entrypoint", "python", image, "-c", probe)
    ok = code == 0 and out.split() == [pins.get("docker"), pins.get("paramiko")]
    return _check(image, "Docker SDK and paramiko as pinned", ok, started, code, out)


def _containers_and_volumes(docker: str) -> tuple[str, str]:
    containers = subprocess.run([docker, "ps", "-aq"], capture_output=True, text=True).stdout
    volumes = subprocess.run([docker, "volume", "ls", "-q"], capture_output=True, text=True).stdout
    return containers, volumes


def pull_image(docker: str, image: str, models: str, root: Path) -> dict:
    """`pull --image` against this machine's engine: records copied, naming the image and its
    digest; no container or volume left."""
    before = _containers_and_volumes(docker)
    into = root / "pulled"
    started = time.monotonic()
    done = subprocess.run([str(AGGREGATOR), "pull", "--image", image, "--into", str(into), "--", "--quick",
                           "--models", models], capture_output=True, text=True)  # fmt: skip
    records = [json.loads(p.read_text()) for p in into.glob("*.json")]
    digests = [r["target"].get("image_digest") or "" for r in records]
    named = records and all(r["target"]["image"] == image for r in records) and all("sha256:" in d for d in digests)
    ok = done.returncode == 0 and named and _containers_and_volumes(docker) == before
    return _check(image, "pull --image: records name the digest, nothing left behind", ok, started, done.returncode,
                  done.stdout + done.stderr)  # fmt: skip


def pull_over_ssh() -> dict:
    """tests/test_pull_ssh.py with the engine up (make test runs before one is): sshd on loopback
    in front of this engine, docker-py's ssh transport; it must run, not skip."""
    if not Path("/usr/sbin/sshd").exists() and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server"], capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    started = time.monotonic()
    pytest = [str(REPO / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    done = subprocess.run([*pytest, "tests/test_pull_ssh.py"], cwd=REPO, capture_output=True, text=True)
    ok = done.returncode == 0 and "skipped" not in done.stdout
    return _check("tests/test_pull_ssh.py", "pull over ssh:// against this engine (not skipped)", ok, started,
                  done.returncode, done.stdout)  # fmt: skip
