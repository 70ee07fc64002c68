"""Damaged bundles are refused in one line naming the file and the stage that rebuilds it; an
export that is killed before its proofs pass never leaves a bundle that can be used."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_bundle
from robust_helpers import ROOT, env, make_project, paths, tiny_params

from nmt.bundle import BundleError, load_bundle, verify_bundle
from nmt.config import ModelParams
from nmt.data import ParallelIds
from nmt.manifest import write_manifest

REBUILD = "; rebuild the bundle with `dvc repro export`"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("damage") / "bundle"
    tiny_bundle(path, ModelParams(embedding_dim=8, units=16, attention="dot"))
    return path


@pytest.fixture
def copy(bundle_dir, tmp_path):
    shutil.copytree(bundle_dir, tmp_path / "bundle")
    return tmp_path / "bundle"


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def damaged(path, name, message="damaged \\(its sha256 differs from the one recorded at export\\)"):
    with pytest.raises(BundleError) as e:
        load_bundle(path)
    assert "\n" not in str(e.value)
    assert re.fullmatch(rf"{re.escape(str(path / name))}: {message}{re.escape(REBUILD)}", str(e.value)), str(e.value)


def test_an_intact_bundle_loads(copy):
    assert len(load_bundle(copy).target_vocab) > 4


@pytest.mark.parametrize("name", ["config.json", "source_vocab.json", "target_vocab.json", "encoder.keras", "decoder_step.keras"])
def test_a_truncated_file_is_named(copy, name):
    truncate(copy / name)
    damaged(copy, name)


def test_an_edited_attention_setting_is_named(copy):
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"attention": "dot"', '"attention": "none"'))
    damaged(copy, "config.json")


def test_a_vocabulary_with_two_entries_swapped_is_named(copy):
    vocab = copy / "target_vocab.json"
    tokens = json.loads(vocab.read_text())["tokens"]
    tokens[5], tokens[6] = tokens[6], tokens[5]  # the same size and valid: it would translate silently wrong
    vocab.write_text(json.dumps({"tokens": tokens}, ensure_ascii=False, indent=0))
    damaged(copy, "target_vocab.json")


def test_a_bundle_without_its_manifest_or_with_a_damaged_one_is_refused(copy):
    truncate(copy / "manifest.json")
    damaged(copy, "manifest.json", r"damaged \(JSONDecodeError: .*\)")
    (copy / "manifest.json").unlink()
    damaged(copy, "manifest.json", r"missing, so the bundle cannot be checked \(an export that was killed, or a bundle from an older version\)")


def test_a_vocabulary_that_does_not_fit_the_model_is_named_even_with_a_matching_manifest(copy):
    vocab = copy / "source_vocab.json"
    tokens = json.loads(vocab.read_text())["tokens"]
    vocab.write_text(json.dumps({"tokens": [*tokens, "extra"]}))
    write_manifest(copy)  # a bundle written wrong, not damaged since
    damaged(copy, "source_vocab.json", rf"{len(tokens) + 1} entries, but the model was built for {len(tokens)}")


def test_the_command_line_reports_a_truncated_model_in_one_line(copy):
    truncate(copy / "encoder.keras")
    proc = subprocess.run(
        [sys.executable, "-m", "nmt.cli", "translate", "--model", str(copy), "i like tea ."], env=env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: {copy / 'encoder.keras'}: damaged (its sha256 differs from the one recorded at export){REBUILD}"


def test_the_proof_fails_on_a_nan_instead_of_passing_it_as_zero(tmp_path):
    seq, bundle = tiny_bundle(tmp_path / "b", ModelParams(embedding_dim=8, units=16))
    weights = seq.training.get_weights()
    weights[-1] = np.full_like(weights[-1], np.nan)  # the output bias: every probability becomes NaN
    seq.training.set_weights(weights)
    data = ParallelIds([np.array([5, 6, 7], np.int32)] * 2, [np.array([5, 6], np.int32)] * 2)
    with pytest.raises(BundleError, match=r"max \|p_bundle - p_training\| = nan > 1e-05"):
        verify_bundle(seq.training, bundle, data, sentences=2, batch_size=2, tolerance=1e-5)


# In a child process: the export stage, SIGKILLed in the middle of its first proof.
KILL_IN_PROOF = """
import os, runpy, signal
import nmt.bundle
def killed(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
nmt.bundle.verify_bundle = killed
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.slow
def test_an_export_killed_during_its_proof_leaves_the_old_bundle_usable_and_its_junk_is_swept(tmp_path):
    from robust_helpers import train

    root = make_project(tmp_path / "project")
    train(tiny_params(epochs=1), paths(root))
    old = root / "models/bundle"
    tiny_bundle(old, ModelParams(embedding_dim=8, units=16))  # a proven bundle from an earlier export
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    script = KILL_IN_PROOF.format(script=str(ROOT / "stages/export.py"))
    junk = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", script], cwd=root, env=env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == -9, proc.stderr
        assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
        load_bundle(old)  # still the old, proven one
        junk.append([p.name for p in old.parent.iterdir() if p.name.startswith(".")])
        assert len(junk[-1]) == 1 and junk[-1][0].startswith(".bundle.") and junk[-1][0].endswith(".tmp")
        unproven = old.parent / junk[-1][0]
        assert (unproven / "encoder.keras").is_file()  # the new bundle was written, its proof never finished
    assert junk[0] != junk[1]  # the second export swept the first one's folder before it began
