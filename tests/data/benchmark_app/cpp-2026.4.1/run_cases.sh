#!/bin/bash
# Runs the C++ benchmark_app report cases. Each case -> /tmp/cppba/out/<case>/ (report files, console.log, cmd.txt)
set -u
export LD_LIBRARY_PATH=/tmp/ov/v2026.4.1/lib/python3.11/site-packages/openvino/libs
BA=/tmp/cppba/build/benchmark_app
S=/tmp/ov/work/tiny_static.onnx
D=/tmp/ov/work/tiny_dynamic.onnx
OUT=/tmp/cppba/out
run() {
  local name=$1; shift
  local dir=$OUT/$name
  rm -rf "$dir"; mkdir -p "$dir"
  printf '%q ' "$BA" "$@" -report_folder "$dir" > "$dir/cmd.txt"; echo >> "$dir/cmd.txt"
  "$BA" "$@" -report_folder "$dir" > "$dir/console.log" 2>&1
  local rc=$?
  echo "exit_code=$rc" >> "$dir/console.log"
  echo "$name rc=$rc"
}
run json        -m $S -d CPU -t 2 -report_type no_counters -json_stats
run csv         -m $S -d CPU -t 2 -report_type no_counters
run p90-json    -m $S -d CPU -t 2 -report_type no_counters -json_stats -latency_percentile 90
run p90-csv     -m $S -d CPU -t 2 -report_type no_counters -latency_percentile 90
run sync-json   -m $S -d CPU -t 2 -api sync -report_type no_counters -json_stats
run avg-json    -m $S -d CPU -t 2 -report_type average_counters -json_stats
run avg-csv     -m $S -d CPU -t 2 -report_type average_counters
run groups-json -m $D -d CPU -t 2 -shape "input[?,3,?,?]" -data_shape "input[1,3,64,64][2,3,128,128]" -pcseq -report_type no_counters -json_stats
run groups-csv  -m $D -d CPU -t 2 -shape "input[?,3,?,?]" -data_shape "input[1,3,64,64][2,3,128,128]" -pcseq -report_type no_counters
run error-json  -m $S -d CPU -t 2 -shape "input[1,3,224]" -report_type no_counters -json_stats
run error-csv   -m $S -d CPU -t 2 -shape "input[1,3,224]" -report_type no_counters
