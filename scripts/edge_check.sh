#!/usr/bin/env bash
# The edge accelerators on real hardware, in a few minutes: the suite and the vendor's own tool
# side by side, then the report. Run it on the machine with the device (or inside its image with
# the device passed in). No Hailo-8, Edge TPU or i.MX 8M Plus has been available to this project:
# these paths are verified against doubles only (README, "Backends and hardware").
#
#   scripts/edge_check.sh hailo8  ZOO_DIR [OUTPUT_DIR]   # needs hailortcli and the zoo's .hef files
#   scripts/edge_check.sh coral   ZOO_DIR [OUTPUT_DIR]   # needs pycoral's benchmark or plain Python
#   scripts/edge_check.sh imx8mp  ZOO_DIR [OUTPUT_DIR]   # needs the BSP's benchmark_model
set -euo pipefail

target=${1:?usage: edge_check.sh hailo8|coral|imx8mp ZOO_DIR [OUTPUT_DIR]}
zoo=${2:?usage: edge_check.sh hailo8|coral|imx8mp ZOO_DIR [OUTPUT_DIR]}
out=${3:-results/edge-check-$target}
mkdir -p "$out/vendor"
command -v vedliot-runner >/dev/null || { echo "edge_check: vedliot-runner is not installed" >&2; exit 2; }
file_of() {  # the zoo's file of MODEL in FORMAT at int8
  python3 - "$zoo" "$1" "$2" <<'PY'
import json, sys
zoo, model, fmt = sys.argv[1:]
entry = json.load(open(f"{zoo}/zoo.json"))["models"][model]
print(next(f"{zoo}/{f['path']}" for f in entry["files"] if f["format"] == fmt and f["precision"] == "int8"))
PY
}

power=()
[ "$target" = hailo8 ] && power=(--power hailo)
# Batch 1 (and 8 on Hailo), ResNet50 and MobileNetV3-Small, int8, short windows.
vedliot-runner suite --target "$target" --zoo "$zoo" --models resnet50,mobilenetv3_small \
  --min-seconds 5 --warmup-seconds 1 "${power[@]}" --output "$out" || true

for model in resnet50 mobilenetv3_small; do
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
    *) echo "edge_check: unknown target $target (hailo8, coral, imx8mp)" >&2; exit 2 ;;
  esac
done

vedliot-aggregator report "$out" --output "$out/report"
echo "runner records and the vendor's figures: $out/report/index.html and $out/vendor/"
grep -h -E "ms \(iterations|Inference \(avg\)|FPS|Latency" "$out"/vendor/*.txt || true
