"""The files stages hand to each other are read back typed and checked: one written by this
code reads back equal, and one from an older or foreign run is refused in one line that names
the file and the stage that remakes it."""

import json

import pytest

from nmt.artifacts import (
    ArtifactError,
    Averaged,
    BestEpoch,
    TextSettings,
    TrainedModel,
    read_text_settings,
    read_trained_model,
    write_text_settings,
    write_trained_model,
)
from nmt.config import ModelParams
from nmt.text import TextPipeline

SETTINGS = TextSettings("small_parallel_enja", True, TextPipeline("en", lowercase=True), TextPipeline("ja"))


def test_text_settings_read_back_as_written(tmp_path):
    write_text_settings(tmp_path, SETTINGS)
    assert read_text_settings(tmp_path, "split") == SETTINGS


def test_a_subword_pipeline_reads_back_with_its_model_inside_the_folder(tmp_path):
    settings = TextSettings("x", False, TextPipeline("en", "subword", subword_model="/elsewhere/source.model"), TextPipeline("fr"))
    write_text_settings(tmp_path, settings)
    assert json.loads((tmp_path / "text.json").read_text())["source"]["subword_model"] == "source.model"
    assert read_text_settings(tmp_path, "vocab").source.subword_model == str(tmp_path / "source.model")


def test_the_trained_models_config_reads_back_as_written(tmp_path):
    info = TrainedModel(ModelParams(units=32, dropout=0.1), 7, BestEpoch(3, 1.25), 4, Averaged([3, 4], 1.2, 1.1))
    write_trained_model(tmp_path, info)
    assert read_trained_model(tmp_path) == info
    plain = TrainedModel(ModelParams(), 1, BestEpoch(1, 2.0), 1)
    write_trained_model(tmp_path, plain)
    assert read_trained_model(tmp_path) == plain and "averaged" not in json.loads((tmp_path / "config.json").read_text())


def one_error_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_a_foreign_text_json_is_refused_naming_the_file_and_the_stage(tmp_path):
    (tmp_path / "text.json").write_text(json.dumps({"corpus": "x", "source": {"lang": "en", "level": "morpheme"}}))
    with pytest.raises(ArtifactError) as e:
        read_text_settings(tmp_path, "split")
    line = one_error_line(e)
    assert str(tmp_path / "text.json") in line and "dvc repro split" in line
    assert "source.level: 'morpheme' is not one of" in line


def test_a_trained_model_from_another_version_is_refused_not_half_read(tmp_path):
    config = TrainedModel(ModelParams(), 1, BestEpoch(1, 2.0), 1).to_dict()
    config["model"]["input_feeding"] = True  # a param this version does not have
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError) as e:
        read_trained_model(tmp_path)
    line = one_error_line(e)
    assert "model.input_feeding: unknown key" in line and "dvc repro train" in line


def test_a_missing_artifact_names_the_stage_that_makes_it(tmp_path):
    with pytest.raises(ArtifactError, match=r"config.json: not found; the `train` stage makes it: run `dvc repro train`"):
        read_trained_model(tmp_path)


def test_the_paths_in_code_are_the_ones_dvc_yaml_declares():
    from pathlib import Path

    import yaml

    from nmt.artifacts import PATHS

    stages = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    outs = {next(iter(o)) if isinstance(o, dict) else o for s in stages.values() for o in s.get("outs", [])}
    assert {PATHS.raw, PATHS.split, PATHS.vocab, PATHS.trained, PATHS.checkpoints, PATHS.bundle} <= {Path(o) for o in outs}
    metric_files = {next(iter(m)) for s in stages.values() for m in s.get("metrics", [])}
    assert all(Path(m).parent in (PATHS.metrics, PATHS.curves) for m in metric_files)
