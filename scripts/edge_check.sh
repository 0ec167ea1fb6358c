#!/usr/bin/env bash
# The edge accelerators on real hardware, in a few minutes: the suite and the vendor's own tool
# side by side, then the report. Run it on the machine with the device (or inside its image with
# the device passed in). No Hailo-8, Edge TPU, i.MX 8M Plus, Xilinx DPU or Myriad X has been
# available to this project: these paths are verified against doubles only (README, "Backends and
# hardware").
#
#   scripts/edge_check.sh hailo8     ZOO_DIR [OUTPUT_DIR]   # needs hailortcli and the zoo's .hef files
#   scripts/edge_check.sh coral      ZOO_DIR [OUTPUT_DIR]   # needs pycoral's benchmark or plain Python
#   scripts/edge_check.sh imx8mp     ZOO_DIR [OUTPUT_DIR]   # needs the BSP's benchmark_model
#   scripts/edge_check.sh dpu-zynqmp ZOO_DIR [OUTPUT_DIR]   # needs xdputil and the zoo's .xmodel files
#   scripts/edge_check.sh dpu-versal ZOO_DIR [OUTPUT_DIR]   #   (the same, ResNet50 only)
#   scripts/edge_check.sh myriad     ZOO_DIR [OUTPUT_DIR]   # needs OpenVINO 2022.3's benchmark_app
set -euo pipefail

usage="usage: edge_check.sh hailo8|coral|imx8mp|dpu-zynqmp|dpu-versal|myriad ZOO_DIR [OUTPUT_DIR]"
target=${1:?$usage}
zoo=${2:?$usage}
out=${3:-results/edge-check-$target}
mkdir -p "$out/vendor"
command -v vedliot-runner >/dev/null || { echo "edge_check: vedliot-runner is not installed" >&2; exit 2; }
file_of() {  # the zoo's file of MODEL in FORMAT at PRECISION (default int8)
  python3 - "$zoo" "$1" "$2" "${3:-int8}" <<'PY'
import json, sys
zoo, model, fmt, precision = sys.argv[1:]
entry = json.load(open(f"{zoo}/zoo.json"))["models"][model]
print(next(f"{zoo}/{f['path']}" for f in entry["files"] if f["format"] == fmt and f["precision"] == precision))
PY
}

power=()
models=resnet50,mobilenetv3_small
case "$target" in
  hailo8) power=(--power hailo) ;;
  dpu-zynqmp) models=resnet50,mobilenetv2; power=(--power hwmon) ;;  # MobileNetV2: D3.3's DPU stand-in
  dpu-versal) models=resnet50; power=(--power hwmon) ;;
esac
# Each target's own configurations (batch 1, and 8 on Hailo, 4 on the Myriad, the DPU's batch),
# two models, short windows.
vedliot-runner suite --target "$target" --zoo "$zoo" --models "$models" \
  --min-seconds 5 --warmup-seconds 1 "${power[@]}" --output "$out" || true

for model in ${models//,/ }; do
  case "$target" in
    hailo8)
      hef=$(file_of "$model" hef)
      hailortcli benchmark "$hef" > "$out/vendor/$model.txt"
      vedliot-aggregator import hailortcli "$out/vendor/$model.txt" --model "$model" --target hailo8 \
        --precision int8 --output "$out" ;;
    coral)
      # pycoral's benchmark method: timeit of invoke() with the input set once (inference_benchmarks.py)
      python3 - "$(file_of "$model" edgetpu)" <<'PY' | tee "$out/vendor/$model.txt"
import sys, time
try:
    from tflite_runtime.interpreter import Interpreter, load_delegate
except ImportError:
    from ai_edge_litert.interpreter import Interpreter, load_delegate
interpreter = Interpreter(sys.argv[1], experimental_delegates=[load_delegate("libedgetpu.so.1")])
interpreter.allocate_tensors()
interpreter.invoke()  # loads the model into the TPU
start = time.perf_counter()
for _ in range(200):
    interpreter.invoke()
print("%.2f ms (iterations = 200)" % ((time.perf_counter() - start) / 200 * 1000))
PY
      ;;
    imx8mp)
      benchmark=$(ls /usr/bin/tensorflow-lite-*/examples/benchmark_model | head -n 1)
      "$benchmark" --graph="$(file_of "$model" tflite)" --external_delegate_path=/usr/lib/libvx_delegate.so \
        --num_runs=50 > "$out/vendor/$model.txt" 2>&1 ;;
    dpu-zynqmp|dpu-versal)
      # DPU only, one thread then as many as the suite's throughput runs; 60 s each by default
      for threads in 1 4; do
        xdputil benchmark "$(file_of "$model" xmodel)" -i -1 "$threads" > "$out/vendor/$model-$threads.txt" 2>&1
        vedliot-aggregator import xdputil "$out/vendor/$model-$threads.txt" --model "$model" --output "$out"
      done ;;
    myriad)
      benchmark_app -m "$(file_of "$model" onnx fp32)" -d MYRIAD -t 10 -report_type no_counters \
        -report_folder "$out/vendor/$model" > "$out/vendor/$model.txt" 2>&1
      vedliot-aggregator import benchmark_app "$out/vendor/$model/benchmark_report.csv" --model "$model" \
        --target myriad_x --precision fp16 --output "$out" ;;
    *) echo "edge_check: unknown target $target ($usage)" >&2; exit 2 ;;
  esac
done

vedliot-aggregator report "$out" --output "$out/report"
echo "runner records and the vendor's figures: $out/report/index.html and $out/vendor/"
grep -h -E "ms \(iterations|Inference \(avg\)|FPS|Latency|Throughput" "$out"/vendor/*.txt || true
