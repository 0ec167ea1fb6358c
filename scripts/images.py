"""`make images`: build every image of docker-bake.hcl with a real Docker engine, on a machine that
may have none running and no container registry in reach.

- Engine: uses the one that answers; else installs Debian's docker.io when dockerd is missing
  (root), starts dockerd, and stops at the end only a dockerd it started.
- Base: the Dockerfiles stay pinned to the upstream base (PYTHON_IMAGE). When it cannot be pulled,
  a stand-in is built once from Debian's packages (debootstrap bookworm with python3, then
  `docker import`) and passed as the PYTHON_IMAGE build argument; never a change to a Dockerfile.
- Certificates: a machine whose HTTPS goes through its own CA (PIP_CERT, REQUESTS_CA_BUNDLE or
  SSL_CERT_FILE) hands it to pip as the BuildKit secret `pip_cert`: never committed, in no layer.

    .venv/bin/python scripts/images.py [TARGET ...] [--keep-engine]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import hcl2

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "images"
STANDIN = "vedliot/standin-python:3.11-bookworm"


def log(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def docker_cli() -> str:
    """A docker client that builds with BuildKit without the buildx plugin (Debian's 20.10 does)."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("images: no docker client (apt-get install docker.io)")


def answers(docker: str) -> bool:
    return subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode == 0


@contextlib.contextmanager
def engine(keep: bool):
    if not shutil.which("dockerd"):
        if os.geteuid() != 0:
            raise SystemExit("images: no Docker engine and not root: install docker.io and start dockerd")
        log("installing Debian's docker.io")
        subprocess.run(["apt-get", "install", "-y", "-qq", "docker.io"], check=True, env={**os.environ,
                       "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    docker = docker_cli()
    started = None
    if not answers(docker):
        log("starting dockerd")
        CACHE.mkdir(parents=True, exist_ok=True)
        started = subprocess.Popen(["dockerd"], stdout=open(CACHE / "dockerd.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not answers(docker):
            if time.monotonic() > deadline or started.poll() is not None:
                raise SystemExit(f"images: dockerd did not start (see {CACHE / 'dockerd.log'})")
            time.sleep(1)
    try:
        yield docker
    finally:
        if started is not None and not keep:
            log("stopping the dockerd this started")
            started.terminate()
            started.wait(timeout=60)


def base(docker: str, pinned: str) -> str:
    """The pinned base when it can be pulled, else the stand-in (built once)."""
    if subprocess.run([docker, "image", "inspect", pinned], capture_output=True).returncode == 0:
        return pinned
    if subprocess.run([docker, "pull", pinned], capture_output=True, timeout=120).returncode == 0:
        return pinned
    if subprocess.run([docker, "image", "inspect", STANDIN], capture_output=True).returncode == 0:
        log(f"{pinned} cannot be pulled: using the stand-in {STANDIN}")
        return STANDIN
    log(f"{pinned} cannot be pulled: building the stand-in {STANDIN} from Debian's packages")
    root = CACHE / "standin-root"
    if not (root / "usr" / "bin" / "python3").exists():
        if not shutil.which("debootstrap"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                        "bookworm", str(root), "http://deb.debian.org/debian"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    for name in ("python", "python3"):  # where the upstream image has its interpreter
        link = root / "usr" / "local" / "bin" / name
        if not link.is_symlink():
            link.symlink_to("/usr/bin/python3")
    importer = subprocess.Popen([docker, "import", "-", STANDIN], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    with tarfile.open(fileobj=importer.stdin, mode="w|") as tar:
        tar.add(root, arcname=".")
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("images: docker import of the stand-in base failed")
    return STANDIN


def built_base(docker: str) -> str:
    """The base the images were built on: the pinned one when the engine has it, else the stand-in."""
    _, variables = targets()
    pinned = variables["PYTHON_IMAGE"]
    return (
        pinned if subprocess.run([docker, "image", "inspect", pinned], capture_output=True).returncode == 0 else STANDIN
    )


def certificate() -> Path | None:
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    return None


def targets() -> tuple[dict[str, dict], dict[str, str]]:
    with open(REPO / "docker-bake.hcl", encoding="utf-8") as handle:
        data = hcl2.load(handle)
    unquote = lambda v: v.strip('"') if isinstance(v, str) else v  # noqa: E731
    found = {unquote(name): body for item in data.get("target", []) for name, body in item.items()}
    variables = {unquote(name): unquote(body.get("default")) for item in data.get("variable", [])
                 for name, body in item.items()}  # fmt: skip
    return {name: body for name, body in found.items() if "dockerfile" in body}, variables


#: build arguments `make images-test` changes: the cuda image without its 2 GB of TensorRT libraries
#: (the rest of its Python layer is built and its entrypoint run); the edge images without what
#: only their vendors' sites give (Coral's apt repository, Hailo's login-only wheel) and with a
#: one-model zoo (TensorFlow's converter runs once, for MobileNetV3-Small)
TEST_ARGS = {
    "cuda": {"TENSORRT_PACKAGE": ""},
    "coral": {"EDGETPU_COMPILER": "", "LIBEDGETPU": "", "ZOO_MODELS": "mobilenetv3_small"},
    "imx8mp": {"ZOO_MODELS": "mobilenetv3_small"},
    "hailo": {"HAILORT_VERSION": ""},
}
#: targets whose own layers need their vendor base: not built on the stand-in
NEEDS_VENDOR_BASE = {
    "jetson-jp4": "its layers install Ubuntu 18.04's python3.8",
    "jetson-jp5": "its layers are jp6's on an older base (jp6 is built on the stand-in)",
}


def build_args(docker: str, name: str, body: dict, testing: bool) -> dict[str, str] | None:
    """The target's own build arguments, vendor bases replaced by the stand-in where they cannot
    be pulled; None when the target cannot be built here."""
    args = {key: unquoted(str(value)) for key, value in (body.get("args") or {}).items()}
    for key, value in list(args.items()):
        if key.endswith("_BASE"):
            args[key] = base(docker, value)
            if args[key] != value and name in NEEDS_VENDOR_BASE:
                log(f"{name}: not built here: {value} cannot be pulled and {NEEDS_VENDOR_BASE[name]}")
                return None
    if testing:
        args.update(TEST_ARGS.get(name, {}))
    return args


def build(docker: str, name: str, body: dict, variables: dict, python_image: str, cert: Path | None,
          testing: bool = False) -> None:  # fmt: skip
    args = build_args(docker, name, body, testing)
    if args is None:
        return
    tag = unquoted(body["tags"][0]).replace("${REGISTRY}", variables.get("REGISTRY") or "")
    tag = tag.replace("${TAG}", variables.get("TAG") or "latest")
    version, image_tag = variables.get("VERSION"), tag.rsplit(":", 1)[1]
    command = [docker, "build", "-f", unquoted(body["dockerfile"]), "-t", tag,
               "--build-arg", f"PYTHON_IMAGE={python_image}", "--build-arg", f"VERSION={version}",
               "--build-arg", f"IMAGE_TAG={image_tag}"]  # fmt: skip
    for extra in body.get("tags", [])[1:]:
        command += ["-t", unquoted(extra).replace("${REGISTRY}", variables.get("REGISTRY") or "")]
    for key, value in args.items():
        command += ["--build-arg", f"{key}={value}"]
    if cert is not None:
        command += ["--secret", f"id=pip_cert,src={cert}"]
    log(f"building {tag} ({name})")
    started = time.monotonic()
    result = subprocess.run([*command, "."], cwd=REPO, env={**os.environ, "DOCKER_BUILDKIT": "1"},
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"images: building {name} failed")
    log(f"built {tag} in {time.monotonic() - started:.0f} s")


def unquoted(value: str) -> str:
    return value.strip('"')


def build_all(docker: str, wanted: list[str] | None = None, testing: bool = False) -> str:
    """Builds the bake targets `wanted` (default: all); returns the tag they carry."""
    found, variables = targets()
    wanted = wanted or sorted(found)
    unknown = [t for t in wanted if t not in found]
    if unknown:
        raise SystemExit(f"images: unknown target {', '.join(unknown)}; choose from {', '.join(sorted(found))}")
    python_image = base(docker, variables["PYTHON_IMAGE"])
    cert = certificate()
    for name in wanted:
        build(docker, name, found[name], variables, python_image, cert, testing)
    reclaim(docker)
    return variables.get("TAG") or "latest"


#: build cache kept after a build: the newest layers, enough to rebuild every image without
#: downloading again; without a bound, repeated builds on one machine filled its disk (CI's fleet
#: check then could not load an image into its second engine)
KEEP_BUILD_CACHE = "16GB"


def reclaim(docker: str) -> None:
    """Removes what earlier builds of these images left: images a rebuild untagged (only ours, by
    their vendor label) and build cache beyond KEEP_BUILD_CACHE."""
    for command in (["image", "prune", "-f", "--filter", "label=org.opencontainers.image.vendor=vedliot-bench"],
                    ["builder", "prune", "-f", "--keep-storage", KEEP_BUILD_CACHE]):  # fmt: skip
        result = subprocess.run([docker, *command], capture_output=True, text=True)
        freed = [line for line in result.stdout.splitlines() if line.startswith("Total reclaimed space")]
        if result.returncode != 0:
            log(f"docker {' '.join(command[:2])} failed: {result.stderr.strip()[-200:]}")
        elif freed:
            log(f"docker {' '.join(command[:2])}: {freed[0].lower()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="bake targets (default: all)")
    parser.add_argument("--keep-engine", action="store_true", help="leave a dockerd this started running")
    args = parser.parse_args()
    with engine(args.keep_engine) as docker:
        build_all(docker, args.targets)


if __name__ == "__main__":
    main()
