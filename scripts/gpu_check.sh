#!/usr/bin/env bash
# The NVIDIA paths on real hardware, in a few minutes: run on a machine with an NVIDIA GPU (or a
# Jetson) where TensorRT, cuda-python and trtexec are installed (e.g. inside vedliot/bench-cuda with
# the host's trtexec mounted, or vedliot/bench-jetson). It runs the cuda (or jetson) suite quickly
# with --cross-check trtexec and NVML (or tegrastats) power, renders the report, and prints the
# runner-against-trtexec table. No GPU has been available to this project: see README, "What was
# verified where".
#
#   scripts/gpu_check.sh [OUTPUT_DIR] [--target jetson] [extra suite options...]
set -euo pipefail

out=${1:-results/gpu-check}
shift || true
target=cuda
if [ "${1:-}" = "--target" ]; then target=$2; shift 2; fi
power=nvml
[ "$target" = jetson ] && power=tegrastats

command -v vedliot-runner >/dev/null || { echo "gpu_check: vedliot-runner is not installed (pip install ./runner[tensorrt,trtexec,nvml])" >&2; exit 2; }
python - <<'PY' || { echo "gpu_check: no usable GPU with TensorRT and cuda-python here" >&2; exit 2; }
import sys
try:
    from vedliot_runner import cuda_rt
    import tensorrt
    runtime, version = cuda_rt.import_runtime()
    gpu = cuda_rt.Cuda(runtime).device(0)
except Exception as exc:  # one line, not a traceback
    sys.exit(f"gpu_check: {type(exc).__name__}: {exc}")
print(f"GPU {gpu.name} (compute {gpu.compute_capability}), TensorRT {tensorrt.__version__}, cuda-python {version}")
PY

mkdir -p "$out"
# Batch 1 latency and batch 8 throughput, fp32/fp16/int8, ResNet50 and MobileNetV3-Small; short windows.
vedliot-runner suite --target "$target" --models resnet50,mobilenetv3_small --cross-check trtexec \
  --min-seconds 3 --warmup-seconds 1 --power "$power" --idle-seconds 2 --output "$out" "$@" || true
vedliot-aggregator report "$out" --output "$out/report"
if [ -f "$out/report/tables/cross-check.md" ]; then
  cat "$out/report/tables/cross-check.md"
else
  echo "gpu_check: no configuration ran on both backends (see $out/report/index.html)" >&2
  exit 1
fi
