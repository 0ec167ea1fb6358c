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
