from pathlib import Path

import pytest

from nmt.config import ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_params_are_valid_and_typed():
    p = load_params(ROOT / "params.yaml")
    assert isinstance(p.epochs, int) and p.epochs >= 1
    assert p.model.cell in ("lstm", "gru")
    assert p.data.corpus == "small_parallel_enja"


def test_missing_keys_take_their_defaults():
    p = parse_params({"epochs": 7})
    assert p.epochs == 7 and p.model.units == 256 and p.train.save_every == 5


def test_a_typo_is_refused_with_a_suggestion():
    with pytest.raises(ParamsError, match=r"model\.atention: unknown key \(did you mean 'attention'\?\)"):
        parse_params({"model": {"atention": "dot"}})


def test_every_problem_is_listed_in_one_message():
    with pytest.raises(ParamsError) as e:
        parse_params(
            {
                "epochs": 0,
                "model": {"dropout": 1.0, "cell": "rnn", "units": "many"},
                "eval": {"beam_size": 0},
                "data": {"corpus": "wmt14"},
            }
        )
    msg = str(e.value)
    assert msg.startswith("6 problem(s)")
    for expected in (
        "epochs: 0 must be >= 1",
        "model.dropout: 1.0 must be < 1.0",
        "model.cell: 'rnn' is not one of",
        "model.units: expected an integer, got 'many'",
        "eval.beam_size: 0 must be >= 1",
        "data.corpus: 'wmt14' is not one of",
    ):
        assert expected in msg


def test_booleans_are_not_numbers_and_numbers_are_not_booleans():
    with pytest.raises(ParamsError, match="epochs: expected an integer, got True"):
        parse_params({"epochs": True})
    with pytest.raises(ParamsError, match="model.bidirectional: expected true or false, got 1"):
        parse_params({"model": {"bidirectional": 1}})


def test_an_integer_is_accepted_where_a_number_is_expected():
    assert parse_params({"train": {"learning_rate": 1}}).train.learning_rate == 1.0


def test_a_custom_corpus_needs_a_url_and_a_checksum():
    with pytest.raises(ParamsError) as e:
        parse_params({"data": {"corpus": "custom"}})
    assert "data.url: required" in str(e.value) and "data.sha256: required" in str(e.value)
    with pytest.raises(ParamsError, match="is not 64 hexadecimal digits"):
        parse_params({"data": {"corpus": "custom", "url": "x.tsv", "sha256": "abc"}})


def test_a_bad_file_is_named(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("epochs: [1\n")
    with pytest.raises(ParamsError, match=f"{bad}: not valid YAML"):
        load_params(bad)
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "missing.yaml")


def test_averaging_more_epochs_than_trained_or_across_workers_is_refused():
    with pytest.raises(ParamsError, match=r"train\.average_last: 5 epochs to average, but epochs is 3"):
        parse_params({"epochs": 3, "train": {"average_last": 5}})
    with pytest.raises(ParamsError, match=r"train\.average_last: averaging is not supported with train\.strategy=multi_worker"):
        parse_params({"epochs": 3, "train": {"average_last": 2, "strategy": "multi_worker"}})
    assert parse_params({"epochs": 3, "train": {"average_last": 3}}).train.average_last == 3
