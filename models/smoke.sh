#!/usr/bin/env bash
# CI smoke run of the model factory: every recipe end to end (data -> 1 epoch on a tiny class-balanced subset ->
# calibration -> thresholds -> test metrics -> ONNX export + checks -> manifest, model card, pictures -> signature)
# into a scratch folder, never into models/packages.
#
#   models/smoke.sh [OUT_DIR]          # default: a new folder under ${TMPDIR:-/tmp}
#
# Signs with $MEDVISION_MODEL_SIGNING_KEY when set, else with the development key. Needs Debian's python3 with
# the packages in deploy/scripts/peers.d/models.list; override the interpreter with $PYTHON.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-/usr/bin/python3}"
out="${1:-$(mktemp -d "${TMPDIR:-/tmp}/medvision-model-smoke.XXXXXX")}"
mkdir -p "$out"
start=$(date +%s)
for model in cxr-pneumonia us-breast-lesion; do
  echo "== smoke: $model -> $out/$model"
  "$python" "$here/train.py" "$model" --smoke --out "$out/$model"
done
# CPU time as well as wall time: on a shared CI box the wall clock mostly measures the neighbours.
# `times` must run in this shell (not in a $(...) subshell, which has no children), hence the file.
times_file="$(mktemp)"
times > "$times_file"
echo "== smoke: done in $(( $(date +%s) - start ))s wall, CPU user/sys $(tail -n 1 "$times_file"): $out"
rm -f "$times_file"
