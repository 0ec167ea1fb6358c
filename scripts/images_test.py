"""`make images-test`: run each built image as a user would, against the real Docker engine.

Per runner image: as its own UID (10001) into a fresh directory, and again as an arbitrary
`--user`; both must exit 0, print no warning, and leave `ok` records that `vedliot-aggregator
validate` accepts; with nothing mounted on /results, a read-only or a foreign-owned one, or an
unknown argument, it must refuse in one line. The aggregator image then renders report/index.html
from those records; images_usage.py checks labels, layers, the SDK pins and `pull --image`,
images_fleet.py a fleet over two engines, and `docker compose up` runs as the README says.
Prints one line per check and a JSON summary; exits 1 when any check fails.

    .venv/bin/python scripts/images_test.py [--tag latest] [--models mobilenetv3_small]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import images  # noqa: E402 - scripts/images.py: the engine and the builds
import images_edge  # noqa: E402 - the edge images without their devices
import images_fleet  # noqa: E402 - fleet run over two real engines
import images_nvidia  # noqa: E402 - the NVIDIA images without a GPU
import images_usage  # noqa: E402 - bad usage, labels, layers, pull

RUNNERS = ("x86-onnxruntime", "x86-openvino", "x86-tvm")
ANY_USER = (4321, 4321)


def docker() -> str:
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def run(image: str, results: Path | None, extra: list[str], args: list[str]) -> tuple[int, str, float]:
    mount = ["-v", f"{results}:/results"] if results is not None else []
    started = time.monotonic()
    done = subprocess.run([docker(), "run", "--rm", *mount, *extra, image, *args], capture_output=True, text=True)
    return done.returncode, (done.stdout + done.stderr).strip(), time.monotonic() - started


def fresh(root: Path, name: str, owner: tuple[int, int]) -> Path:
    directory = root / name
    directory.mkdir()
    os.chown(directory, *owner)
    return directory


def ok_records(directory: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in directory.glob("*.json")]
    return [r for r in records if r.get("status") == "ok"]


def valid(directory: Path) -> bool:
    aggregator = REPO / ".venv" / "bin" / "vedliot-aggregator"
    return subprocess.run([str(aggregator), "validate", str(directory), "--quiet"]).returncode == 0


def check_runner(target: str, tag: str, suite: list[str], root: Path) -> list[dict]:
    image = f"vedliot/bench-{target}:{tag}"
    checks, outputs = [], {}
    for label, owner, extra in (("own user", (10001, 10001), []),
                                ("--user", ANY_USER, ["--user", f"{ANY_USER[0]}:{ANY_USER[1]}"])):  # fmt: skip
        directory = fresh(root, f"{target}-{label.strip('-').replace(' ', '-')}", owner)
        code, output, seconds = run(image, directory, extra, suite)
        outputs[label] = output
        records = ok_records(directory)
        named = all(r["target"]["image"] == f"vedliot/bench-{target}:{tag}" and r["host"].get("container_id")
                    for r in records)  # fmt: skip
        good = code == 0 and records and named and valid(directory)
        checks.append({"image": image, "check": label, "ok": bool(good), "seconds": round(seconds, 1),
                       "exit": code, "last": output.splitlines()[-1] if output else ""})  # fmt: skip
    code, output, seconds = run(image, None, [], suite)
    last = output.splitlines()[-1] if output else ""
    checks.append({"image": image, "check": "no /results mount refused", "ok": code == 2,
                   "seconds": round(seconds, 1), "exit": code, "last": last})  # fmt: skip
    checks.append(images_usage.quiet_runs(image, outputs))
    checks += images_usage.misuse(docker(), image, suite, root)
    checks.append(images_usage.licence(docker(), image))
    return checks


def check_stop(target: str, tag: str, models: str, root: Path) -> dict:
    """`docker stop` during a run: the runner gets SIGTERM and leaves an `interrupted` record."""
    image = f"vedliot/bench-{target}:{tag}"
    directory = fresh(root, f"{target}-stopped", (10001, 10001))
    started = time.monotonic()
    container = subprocess.run([docker(), "run", "-d", "-v", f"{directory}:/results", image, "--models", models,
                                "--min-seconds", "60"], capture_output=True, text=True).stdout.strip()  # fmt: skip
    time.sleep(8)  # past start-up and the model load, inside the timed window
    subprocess.run([docker(), "stop", "-t", "20", container], capture_output=True)
    logs = subprocess.run([docker(), "logs", container], capture_output=True, text=True)
    subprocess.run([docker(), "rm", container], capture_output=True)
    statuses = [json.loads(p.read_text()).get("status") for p in directory.glob("*.json")]
    return {"image": image, "check": "docker stop leaves an interrupted record", "ok": "interrupted" in statuses,
            "seconds": round(time.monotonic() - started, 1), "exit": None,
            "last": (logs.stdout + logs.stderr).strip().splitlines()[-1:] or ""}  # fmt: skip


def compose_command() -> list[str] | None:
    """Compose v2 where the client has it, else v1 (Debian's docker-compose, installed if root)."""
    if subprocess.run([docker(), "compose", "version"], capture_output=True).returncode == 0:
        return [docker(), "compose"]
    if not shutil.which("docker-compose") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "docker-compose"], capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    return ["docker-compose"] if shutil.which("docker-compose") else None


def check_compose(models: str, root: Path) -> list[dict]:
    """`docker compose up` as the README says: the baselines one after another, then the report;
    and with one baseline broken, a failed `up` and no report."""
    compose = compose_command()
    if compose is None:
        return [{"image": "compose.yaml", "check": "docker compose up", "ok": False, "seconds": 0, "exit": None,
                 "last": "no docker-compose or docker compose (apt-get install docker-compose)"}]  # fmt: skip
    checks = []
    broken = 'services:\n  x86-openvino:\n    entrypoint: ["false"]\n'
    cases = (
        ("docker compose up: baselines then the report", [], 0),
        ("docker compose up with a broken baseline fails", ["-f", "broken.yaml"], 1),
    )
    for label, extra, want in cases:
        project = root / f"compose-{want}"
        results = project / "results"
        results.mkdir(parents=True)
        os.chown(results, *ANY_USER)
        shutil.copy(REPO / "compose.yaml", project / "compose.yaml")
        (project / "broken.yaml").write_text(broken)
        env = {**os.environ, "HOST_UID": str(ANY_USER[0]), "HOST_GID": str(ANY_USER[1]),
               "BENCH_ARGS": f"--quick --models {models}"}  # fmt: skip
        started = time.monotonic()
        done = subprocess.run([*compose, "-f", "compose.yaml", *extra, "up"], cwd=project, env=env,
                              capture_output=True, text=True)  # fmt: skip
        subprocess.run([*compose, "-f", "compose.yaml", *extra, "down", "-v"], cwd=project, env=env,
                       capture_output=True)  # fmt: skip
        report = (results / "report" / "index.html").is_file()
        ok = (done.returncode == 0 and report) if want == 0 else (done.returncode != 0 and not report)
        output = (done.stdout + done.stderr).strip().splitlines()
        seconds = round(time.monotonic() - started, 1)
        checks.append({"image": "compose.yaml", "check": label, "ok": ok, "seconds": seconds,
                       "exit": done.returncode, "last": output[-1] if output else ""})  # fmt: skip
    return checks


def check_aggregator(tag: str, root: Path) -> dict:
    records = fresh(root, "all", (10001, 10001))
    for path in root.glob("x86-*/*.json"):
        shutil.copy(path, records / path.name)
        os.chown(records / path.name, 10001, 10001)
    code, output, seconds = run(f"vedliot/aggregator:{tag}", records, [], [])
    ok = code == 0 and (records / "report" / "index.html").is_file()
    return {"image": f"vedliot/aggregator:{tag}", "check": "report from the runners' records", "ok": ok,
            "seconds": round(seconds, 1), "exit": code, "last": output.splitlines()[-1] if output else ""}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="latest")
    parser.add_argument("--models", default="mobilenetv3_small")
    parser.add_argument("--targets", default=",".join(RUNNERS))
    parser.add_argument("--build", action="store_true", help="build the images first (make images-test)")
    parser.add_argument("--no-fleet", action="store_true", help="leave out the fleet check (a second dockerd)")
    args = parser.parse_args()
    # The engine this starts (if none answers) is stopped at the end: nothing is left running.
    with images.engine(keep=False) as docker:
        if args.build:
            images.build_all(docker, testing=True)
        checks = _checks(args)
    print(json.dumps({"passed": sum(c["ok"] for c in checks), "failed": sum(not c["ok"] for c in checks),
                      "checks": checks}))  # fmt: skip
    sys.exit(0 if all(c["ok"] for c in checks) else 1)


def _say(check: dict) -> dict:
    mark = "ok   " if check["ok"] else "FAIL "
    detail = "" if check["ok"] else f" {check['last']}"
    print(f"{mark}{check['image']}: {check['check']} ({check['seconds']} s){detail}", file=sys.stderr)
    return check


def _checks(args) -> list[dict]:
    suite = ["--quick", "--models", args.models]
    checks = []
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        for target in args.targets.split(","):
            checks += [_say(check) for check in check_runner(target, args.tag, suite, root)]
        checks.append(_say(check_stop(args.targets.split(",")[0], args.tag, args.models, root)))
        checks += [_say(check) for check in images_nvidia.check_nvidia(docker(), args.tag, args.models, root)]
        checks += [_say(check) for check in images_edge.check_edge(docker(), args.tag, root)]
        checks.append(_say(check_aggregator(args.tag, root)))
        aggregator = f"vedliot/aggregator:{args.tag}"
        checks += [_say(c) for c in images_usage.misuse(docker(), aggregator, suite, root, aggregator=True)]
        checks += [
            _say(images_usage.licence(docker(), aggregator)),
            _say(images_usage.pinned_sdk(docker(), aggregator)),
        ]
        runners = [f"vedliot/bench-{t}:{args.tag}" for t in RUNNERS]
        checks.append(_say(images_usage.shared_zoo(docker(), runners, images.built_base(docker()))))
        first = f"vedliot/bench-{args.targets.split(',')[0]}:{args.tag}"
        checks.append(_say(images_usage.pull_image(docker(), first, args.models, root)))
        checks.append(_say(images_usage.pull_over_ssh()))
        if not args.no_fleet:
            checks += [_say(c) for c in images_fleet.check_fleet(docker(), first, args.models, root)]
        checks += [_say(check) for check in check_compose(args.models, root)]
    return checks


if __name__ == "__main__":
    main()
