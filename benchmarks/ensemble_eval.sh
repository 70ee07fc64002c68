#!/usr/bin/env bash
# The evaluate stage (this checkout's stages/evaluate.py) over bundles trained elsewhere, alone or
# as an ensemble, with its results kept for a BENCHMARKS.md row (benchmarks/rescore.py checks them).
#
#   benchmarks/ensemble_eval.sh NAME SPLIT_DIR BEAM BUNDLE [BUNDLE ...]
#
# In a scratch folder: models/bundle -> the first BUNDLE, data/split -> SPLIT_DIR (a run's
# data/split, for its test set), params.yaml = this checkout's with eval.beam_size=BEAM and
# eval.ensemble = the other BUNDLEs. Copies hypotheses, eval.json, params.yaml, test.ref and the
# command into benchmarks/results/quality/NAME/.
set -euo pipefail
name=${1:?usage: ensemble_eval.sh NAME SPLIT_DIR BEAM BUNDLE [BUNDLE ...]}
split=$(realpath "${2:?}")
beam=${3:?}
shift 3
first=$(realpath "${1:?}")
shift
others=()
for b in "$@"; do others+=("$(realpath "$b")"); done
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/models" "$work/data"
ln -s "$first" "$work/models/bundle"
ln -s "$split" "$work/data/split"
. "$here/.venv/bin/activate"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH="$here"
python - "$here/params.yaml" "$work/params.yaml" "$beam" "${others[@]}" <<'EOF'
import sys, yaml
params = yaml.safe_load(open(sys.argv[1]))
params["eval"].update(beam_size=int(sys.argv[3]), ensemble=sys.argv[4:])
yaml.safe_dump(params, open(sys.argv[2], "w"), sort_keys=False, allow_unicode=True)
EOF
(cd "$work" && python "$here/stages/evaluate.py")
keep=$here/benchmarks/results/quality/$name
mkdir -p "$keep"
cp "$work"/metrics/hypotheses.txt "$work"/metrics/hypotheses.tok.txt "$work"/metrics/eval.json "$work"/params.yaml "$split/test.ref" "$keep/"
cp "$work"/timings/eval_speed.json "$keep/"
echo "$(date -u +%FT%TZ) $(git -C "$here" rev-parse --short HEAD) benchmarks/ensemble_eval.sh $name $split $beam $first ${others[*]}" > "$keep/command.txt"
