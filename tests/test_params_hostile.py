"""Hostile params: whatever value any param is given, validation gives one clear message or a
config every stage can use, never a traceback; NaN, infinities and out-of-range seeds are refused;
a stage reads params.yaml the one way, refusing duplicate and missing keys."""

import copy
import dataclasses
import math
import subprocess
import sys
import typing

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_helpers import ROOT, env

from nmt.config import Params, ParamsError, load_params, parse_params

COMMITTED = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


def _leaves(d: dict, prefix=()):
    """Every key path, sections included (a section replaced by a scalar must be refused too)."""
    for k, v in d.items():
        yield (*prefix, k)
        if isinstance(v, dict):
            yield from _leaves(v, (*prefix, k))


LEAVES = sorted(_leaves(COMMITTED))
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 2**32, -1]),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _with(raw: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(raw)
    node = out
    for k in path[:-1]:
        if not isinstance(node.get(k), dict):  # an earlier change replaced the section
            node[k] = {}
        node = node[k]
    node[path[-1]] = value
    return out


def _all_values(obj):
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield f.name, getattr(obj, f.name)
            yield from _all_values(getattr(obj, f.name))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(LEAVES), ANY_VALUE), min_size=1, max_size=3))
def test_any_value_for_any_param_is_a_clear_message_or_a_valid_config(changes):
    raw = COMMITTED
    for path, value in changes:
        raw = _with(raw, path, value)
    try:
        params = parse_params(raw, complete=True)
    except ParamsError as e:
        lines = str(e).splitlines()
        assert lines[0].startswith(f"{len(lines) - 1} problem(s)")
        assert all(line.startswith("  - ") and ": " in line for line in lines[1:])
        return
    for name, value in _all_values(params):  # what passed is usable: finite numbers, 32-bit seed
        if isinstance(value, float):
            assert math.isfinite(value), name
    assert 0 <= params.seed < 2**32
    assert params.model.dropout < 1 and params.train.learning_rate > 0 and params.eval.length_penalty >= 0


@pytest.mark.parametrize(
    "key",
    ["train.learning_rate", "train.clipnorm", "train.label_smoothing", "train.subword_sampling", "model.dropout", "eval.length_penalty", "eval.max_len_a"],
)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_every_float_param_refuses_nan_and_infinities(key, value):
    with pytest.raises(ParamsError, match=rf"{key}: .* is not a finite number"):
        parse_params(_with(COMMITTED, tuple(key.split(".")), value))


def test_the_float_params_tested_are_all_of_them():
    floats = set()
    for section in ("data", "vocab", "model", "train", "eval"):
        cls = typing.get_type_hints(Params)[section]
        floats |= {
            f"{section}.{f.name}"
            for f in dataclasses.fields(cls)
            if float in (typing.get_args(typing.get_type_hints(cls)[f.name]) or (typing.get_type_hints(cls)[f.name],))
        }
    assert floats == {
        "train.learning_rate",
        "train.clipnorm",
        "train.label_smoothing",
        "train.subword_sampling",
        "model.dropout",
        "eval.length_penalty",
        "eval.max_len_a",
    }


@pytest.mark.parametrize("seed, ok", [(-1, False), (0, True), (2**32 - 1, True), (2**32, False)])
def test_seeds_must_fit_in_32_bits(seed, ok):
    raw = {**COMMITTED, "seed": seed}
    if ok:
        assert parse_params(raw).seed == seed
    else:
        with pytest.raises(ParamsError, match=rf"seed: {seed} must be (>= 0|<= 4294967295)"):
            parse_params(raw)


def test_nan_written_by_dvc_exp_run_is_refused_in_the_file(tmp_path):
    path = tmp_path / "params.yaml"  # `dvc exp run -S train.learning_rate=nan` writes `.nan`
    path.write_text((ROOT / "params.yaml").read_text().replace("learning_rate: 0.001", "learning_rate: .nan"))
    with pytest.raises(ParamsError, match=r"train\.learning_rate: nan is not a finite number"):
        load_params(path)


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\nepochs: 5\nepochs: 9\n")
    with pytest.raises(ParamsError, match=rf"^{path}: line 3: the key 'epochs' appears twice \(first at line 2\)$"):
        load_params(path)


def test_an_empty_or_partial_file_is_refused_not_filled_with_defaults(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("")
    with pytest.raises(ParamsError, match="empty; every param must be set"):
        load_params(path)
    path.write_text(yaml.safe_dump({k: v for k, v in COMMITTED.items() if k != "epochs"}))
    with pytest.raises(ParamsError, match=r"epochs: missing \(there are no built-in defaults"):
        load_params(path)


def test_the_python_defaults_are_the_committed_params():
    assert parse_params(COMMITTED, complete=True) == Params()


def test_a_stage_run_directly_refuses_duplicate_keys_in_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text() + "epochs: 4\n")
    proc = subprocess.run([sys.executable, str(ROOT / "stages/train.py")], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: params.yaml: line {len((ROOT / 'params.yaml').read_text().splitlines()) + 1}: "
        f"the key 'epochs' appears twice (first at line {next(i for i, line in enumerate((ROOT / 'params.yaml').read_text().splitlines(), 1) if line.startswith('epochs:'))})"
    ]


def test_the_command_line_refuses_a_nan_length_penalty():
    proc = subprocess.run(
        [sys.executable, "-m", "nmt.cli", "translate", "--length-penalty", "nan", "x"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "argument --length-penalty: 'nan' is not a finite number" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_the_python_api_refuses_a_nan_length_penalty(random_bundle):
    from nmt.translate import Translator

    with pytest.raises(ValueError, match="must be finite numbers"):
        Translator(random_bundle[1]).translate(["i like tea ."], beam_size=2, length_penalty=float("nan"))


def test_a_non_finite_metric_is_refused_not_written_as_bare_nan(tmp_path):
    from nmt.fsutil import OutputError, write_json

    with pytest.raises(OutputError, match="would hold NaN or infinity"):
        write_json(tmp_path / "m.json", {"loss": float("nan")})
    assert not (tmp_path / "m.json").exists()
