"""DVC stage `train`: data/split + data/vocab -> models/train/ (the best model by validation loss).

Checkpoints go to models/checkpoints/ (a persistent output, so that a rerun can resume),
curves to metrics/train/ (dvclive).
"""

import sys

from nmt.config import load_params
from nmt.stage import run_stage


def main() -> int:
    params = load_params()
    from nmt.training import train  # TensorFlow loads only after the params are known to be good

    train(params)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
