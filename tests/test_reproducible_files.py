"""Model files are byte-identical when the same model is saved again: in another process, with
another hash seed, at another time. Otherwise every rerun changes DVC's hashes of models/."""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from pipeline_helpers import ROOT, venv_env

# A tiny bundle (encoder, decoder step, vocabularies) and its serving SavedModel, from seed 1.
EXPORT = """
import sys
sys.path.insert(0, "tests")
import keras
from conftest import tiny_bundle
from nmt.config import ModelParams
from nmt.serving import save_serving_model
keras.utils.set_random_seed(1)
_, bundle = tiny_bundle(sys.argv[1], ModelParams(embedding_dim=8, units=16))
save_serving_model(bundle, sys.argv[1])
"""


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_exports_of_the_same_model_write_identical_files(tmp_path):
    procs = []
    for n, hash_seed in enumerate(("1", "2")):  # Python's set order differs between the two
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", EXPORT, str(tmp_path / f"b{n}")],
                cwd=ROOT,
                env={**venv_env(), "PYTHONHASHSEED": hash_seed},
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        time.sleep(1.5)  # a later save date, and zip entry time (2 s steps) for most of the writing
    for p in procs:
        assert p.wait() == 0, p.stderr.read()
    first, second = file_hashes(tmp_path / "b0"), file_hashes(tmp_path / "b1")
    assert {"encoder.keras", "decoder_step.keras", "serving/1/saved_model.pb", "serving/1/fingerprint.pb"} <= first.keys()
    assert first == second, [name for name in first if first[name] != second.get(name)]


def test_a_model_saved_with_fixed_dates_loads_and_computes_the_same(random_bundle, tmp_path):
    import keras
    import numpy as np

    from nmt.fsutil import save_keras

    seq, _ = random_bundle
    save_keras(seq.encoder, tmp_path / "encoder.keras")
    again = keras.models.load_model(tmp_path / "encoder.keras", compile=False)
    x = np.array([[4, 5, 6, 0]], dtype=np.int32)
    for a, b in zip(seq.encoder(x), again(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
