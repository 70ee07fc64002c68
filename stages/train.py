"""DVC stage `train`: data/split + data/vocab -> models/train/ (the trained model and its config)
and timings/train_speed.json.

Checkpoints go to models/checkpoints/ (a persistent output, so that a rerun can resume),
curves to metrics/train/ (dvclive), both as training goes.
"""

import sys

from nmt.config import load_params
from nmt.stage import run_stage


def main() -> int:
    params = load_params()
    # TensorFlow loads only after the params are known to be good.
    from nmt.artifacts import PATHS, write_trained
    from nmt.fsutil import write_json
    from nmt.training import train

    result = train(params, PATHS)
    if result is None:  # a worker other than the chief: the chief writes the results
        return 0
    write_trained(PATHS.trained, result.model, result.info)
    write_json(PATHS.timings / "train_speed.json", result.speed)
    print(f"train: {result.info.kept()} -> {PATHS.trained}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
