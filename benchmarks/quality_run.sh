#!/usr/bin/env bash
# A long quality run in its own clone, so that it neither blocks nor is disturbed by work in
# this checkout. Rerunning the same command after an interruption resumes from the newest
# checkpoint (models/checkpoints persists in the run's clone).
#
#   benchmarks/quality_run.sh NAME -S epochs=15 -S model.units=512 ...
#
# The run lives in ${RUNS_DIR:-../runs}/NAME: its log is run.log, its metrics are in metrics/,
# the training curve in metrics/train/plots/. The overrides are passed to `dvc exp run` as
# typed, so the row in BENCHMARKS.md reproduces with `dvc exp run <the same -S ...>`.
set -euo pipefail
name=${1:?usage: quality_run.sh NAME [-S key=value ...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS_DIR:-$here/../runs}
dir=$runs/$name
if [[ ! -d $dir/.git ]]; then
  mkdir -p "$runs"
  git clone -q "$here" "$dir"
fi
cd "$dir"
. "$here/.venv/bin/activate"
export TF_CPP_MIN_LOG_LEVEL=2
# The stages must import this clone's nmt, not the checkout the virtualenv was installed from.
export PYTHONPATH="$dir"
{
  echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) dvc exp run $*"
  start=$(date +%s)
  dvc exp run "$@"
  echo "== finished in $(( $(date +%s) - start )) s"
} >>run.log 2>&1
# What BENCHMARKS.md's row needs to be re-checked (benchmarks/rescore.py): the hypotheses in both
# forms, the test references as distributed, the scores, the params and the exact command.
keep=$here/benchmarks/results/quality/$name
mkdir -p "$keep"
cp metrics/hypotheses.txt metrics/eval.json params.yaml data/split/test.ref "$keep/"
[[ -f metrics/hypotheses.tok.txt ]] && cp metrics/hypotheses.tok.txt "$keep/"
# The train stage's epoch lines (losses, dev BLEU, seconds): benchmarks/quality_per_minute.py reads them.
grep -E '^epoch [0-9]+/' run.log > "$keep/epochs.log" || true
grep '^== .* dvc exp run' run.log | tail -1 | cut -d' ' -f2- > "$keep/command.txt"  # date, commit, command
