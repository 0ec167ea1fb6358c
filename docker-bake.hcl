# Builds the host images: docker buildx bake -f docker-bake.hcl [host|x86-openvino|...]
# (always pass -f: without it, bake also reads compose.yaml and mixes its services in).
# Images are tagged ${REGISTRY}vedliot/bench-<target>:${TAG} and ${REGISTRY}vedliot/aggregator:${TAG}.

variable "REGISTRY" {
  # e.g. "ghcr.io/acme/" (with the trailing slash); empty: local images
  default = ""
}

variable "TAG" {
  default = "latest"
}

variable "VERSION" {
  # goes into the org.opencontainers.image.version label
  default = "0.1.0"
}

variable "PYTHON_IMAGE" {
  # The interpreter CI tests with (requirements/constraints.txt was frozen on it).
  default = "python:3.11.7-slim-bookworm"
}

# Abstract: every image inherits it.
target "_common" {
  context = "."
  args = {
    PYTHON_IMAGE = PYTHON_IMAGE
    VERSION      = VERSION
    IMAGE_TAG    = TAG
  }
  labels = {
    "org.opencontainers.image.version" = VERSION
  }
}

target "x86-onnxruntime" {
  inherits   = ["_common"]
  dockerfile = "images/x86-onnxruntime/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-x86-onnxruntime:${TAG}"]
  platforms  = ["linux/amd64"]
}

target "x86-openvino" {
  inherits   = ["_common"]
  dockerfile = "images/x86-openvino/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-x86-openvino:${TAG}"]
  platforms  = ["linux/amd64"]
}

target "x86-tvm" {
  inherits   = ["_common"]
  dockerfile = "images/x86-tvm/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-x86-tvm:${TAG}"]
  platforms  = ["linux/amd64"]
}

target "aggregator" {
  inherits   = ["_common"]
  dockerfile = "images/aggregator/Dockerfile"
  tags       = ["${REGISTRY}vedliot/aggregator:${TAG}"]
  # The host side also runs on ARM laptops and servers.
  platforms  = ["linux/amd64", "linux/arm64"]
}

group "host" {
  targets = ["x86-onnxruntime", "x86-openvino", "x86-tvm", "aggregator"]
}

group "default" {
  targets = ["host"]
}

# NVIDIA: discrete GPUs (x86-64) and Jetson boards (arm64, one tag per JetPack generation).
target "cuda" {
  inherits   = ["_common"]
  dockerfile = "images/cuda/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-cuda:${TAG}"]
  platforms  = ["linux/amd64"]
}

# JetPack 4 (Nano, TX2): Ubuntu 18.04's Python 3.8 and the trtexec backend (TensorRT 8.2's Python
# bindings are for Python 3.6 only).
target "jetson-jp4" {
  inherits   = ["_common"]
  dockerfile = "images/jetson/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-jetson:jp4"]
  platforms  = ["linux/arm64"]
  args = {
    L4T_BASE        = "nvcr.io/nvidia/l4t-base:r32.7.1"
    PYTHON          = "python3.8"
    PYTHON_PACKAGES = "python3.8 python3.8-venv python3-pip"
    CUDA_PYTHON     = ""
    RUNNER_EXTRAS   = "trtexec,datasets"
    BACKEND         = "trtexec"
  }
}

# JetPack 5 (AGX Xavier, Xavier NX): Python 3.8, TensorRT 8.5 (both Python API generations).
target "jetson-jp5" {
  inherits   = ["_common"]
  dockerfile = "images/jetson/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-jetson:jp5"]
  platforms  = ["linux/arm64"]
  args = {
    L4T_BASE    = "nvcr.io/nvidia/l4t-jetpack:r35.4.1"
    CUDA_PYTHON = "cuda-python==11.8.2"
  }
}

# JetPack 6.1/6.2 (AGX Orin, Orin NX): Python 3.10, TensorRT 10.3; also the `latest` tag.
target "jetson-jp6" {
  inherits   = ["_common"]
  dockerfile = "images/jetson/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-jetson:jp6", "${REGISTRY}vedliot/bench-jetson:latest"]
  platforms  = ["linux/arm64"]
  args = {
    L4T_BASE    = "nvcr.io/nvidia/l4t-jetpack:r36.4.0"
    CUDA_PYTHON = "cuda-python==12.6.2.post1"
  }
}

group "nvidia" {
  targets = ["cuda", "jetson-jp4", "jetson-jp5", "jetson-jp6"]
}

# Edge accelerators. Their vendor runtimes come from the vendors: Coral's apt repository (coral),
# Hailo's login-only downloads put in images/hailo/vendor/ (hailo), the board's BSP mounted at run
# time (imx8mp, vitis-ai), Intel's OpenVINO 2022.3 image (myriad).
target "coral" {
  inherits   = ["_common"]
  dockerfile = "images/coral/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-coral:${TAG}"]
  # x86-64 hosts with an M.2/PCIe or USB TPU, and arm64 boards (the Dev Board, a Raspberry Pi)
  platforms  = ["linux/amd64", "linux/arm64"]
}

target "hailo" {
  inherits   = ["_common"]
  dockerfile = "images/hailo/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-hailo:${TAG}"]
  platforms  = ["linux/amd64", "linux/arm64"]
  args = {
    UBUNTU_BASE     = "ubuntu:22.04"
    # must equal the host's hailo_pci driver and the wheel in images/hailo/vendor/
    HAILORT_VERSION = "4.23.0"
  }
}

target "imx8mp" {
  inherits   = ["_common"]
  dockerfile = "images/imx8mp/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-imx8mp:${TAG}"]
  platforms  = ["linux/arm64"]
}

# Xilinx DPUs: the board's Vitis AI runtime mounted at run time, on the board's Python (3.9 for
# Vitis AI 2.5/3.0 board images).
target "vitis-ai" {
  inherits   = ["_common"]
  dockerfile = "images/vitis-ai/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-vitis-ai:${TAG}"]
  platforms  = ["linux/arm64"]
  args = {
    BOARD_PYTHON_BASE = "python:3.9.18-slim-bookworm"
  }
}

# Intel Myriad X: OpenVINO 2022.3 LTS's MYRIAD plugin, in Intel's runtime image (amd64 only).
target "myriad" {
  inherits   = ["_common"]
  dockerfile = "images/myriad/Dockerfile"
  tags       = ["${REGISTRY}vedliot/bench-myriad:${TAG}"]
  platforms  = ["linux/amd64"]
  args = {
    OPENVINO_BASE = "openvino/ubuntu20_runtime:2022.3.1"
  }
}

group "edge" {
  targets = ["coral", "hailo", "imx8mp", "vitis-ai", "myriad"]
}
