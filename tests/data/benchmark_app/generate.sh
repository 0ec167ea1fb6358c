#!/bin/bash
# Usage: gen.sh VENV OUTDIR  -- runs benchmark_app of that venv in every report form we import.
set -u
BA=$(realpath $1)/bin/benchmark_app; O=$(realpath -m $2); M=$(realpath $(dirname $0))/work
run() { local name=$1; shift; mkdir -p $O/$name; (cd $O/$name && timeout 300 $BA "$@" -report_folder . > console.log 2>&1; echo "exit $?" >> console.log); }
run json       -m $M/tiny_static.onnx -d CPU -t 2 -report_type no_counters -json_stats
run csv        -m $M/tiny_static.onnx -d CPU -t 2 -report_type no_counters
run avg-json   -m $M/tiny_static.onnx -d CPU -t 2 -report_type average_counters -json_stats
run avg-csv    -m $M/tiny_static.onnx -d CPU -t 2 -report_type average_counters
run det-json   -m $M/tiny_static.onnx -d CPU -t 2 -report_type detailed_counters -json_stats
run p90-json   -m $M/tiny_static.onnx -d CPU -t 2 -report_type no_counters -json_stats -latency_percentile 90
run sync-json  -m $M/tiny_static.onnx -d CPU -t 2 -report_type no_counters -json_stats -api sync -b 1
run groups-json -m $M/tiny_dynamic.onnx -d CPU -t 3 -report_type no_counters -json_stats -shape "input[?,3,?,?]" -data_shape "input[1,3,64,64][2,3,128,128]" -pcseq
run groups-csv  -m $M/tiny_dynamic.onnx -d CPU -t 3 -report_type no_counters -shape "input[?,3,?,?]" -data_shape "input[1,3,64,64][2,3,128,128]" -pcseq
run shapes-json -m $M/tiny_dynamic.onnx -d CPU -t 3 -report_type no_counters -json_stats -shape "input[?,3,?,?]" -data_shape "input[1,3,64,64][2,3,128,128]"
run error-json -m $M/tiny_static.onnx -d CPU -t 2 -report_type no_counters -json_stats -shape "input[1,3,224]"
