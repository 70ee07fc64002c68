"""`nmt experiments`: `dvc exp show --json` narrowed to the experiment, the params that differ and
the quality metrics (the real `dvc exp run` case is in tests/test_pipeline.py)."""

from nmt.experiments import changed_params, parse_exp_show, table


def entry(rev, name, params, bleu=None, dev_loss=None, averaged=None, seconds=12.5):
    metrics = {
        "metrics/eval.json": {"data": {"bleu": bleu, "bleu_corpus_tokens": bleu and bleu + 1, "chrf": bleu and bleu * 2, "signatures": {"bleu": "nrefs:1"}}},
        "metrics/eval_speed.json": {"data": {"seconds": seconds}},
        "metrics/train/metrics.json": {"data": {"best_val_loss": dev_loss, **({"averaged_val_loss": averaged} if averaged else {}), "dev": {"loss": 9.9}}},
    }
    return {"rev": rev, "name": name, "data": {"rev": rev, "params": {"params.yaml": {"data": params}}, "metrics": metrics}, "error": None}


def params(units=16, beam=1, level="word", epochs=5):
    return {
        "seed": 42,
        "epochs": epochs,
        "model": {"units": units, "cell": "lstm"},
        "vocab": {"level": level},
        "eval": {"beam_size": beam},
        "data": {"corpus": "small_parallel_enja"},
    }


def exp_show():
    base = entry("abc1234def", "main", params(), 20.5, 1.734)
    base["experiments"] = [
        {"name": "wide", "revs": [{**entry("e1", "wide", params(units=64), 22.25, 1.61, averaged=1.58), "experiments": None}]},
        {"name": "beam5", "revs": [{**entry("e2", "beam5", params(beam=5), 21.0, 1.734), "experiments": None}]},
        {"name": "broken", "revs": [{"rev": "e3", "name": "broken", "data": None, "error": {"msg": "failed to reproduce"}}]},
    ]
    return [entry("workspace", None, params(), 20.5, 1.734) | {"experiments": None}, base]


def test_every_experiment_is_listed_with_its_quality_metrics():
    exps = parse_exp_show(exp_show())
    assert [e.name for e in exps] == ["workspace", "main", "wide", "beam5", "broken"]
    wide = exps[2]
    assert wide.metrics == {"BLEU": 22.25, "tok BLEU": 23.25, "chrF": 44.5, "dev loss": 1.58}  # the averaged model's loss
    assert exps[1].metrics["dev loss"] == 1.734 and exps[4].error == "failed to reproduce"


def test_only_the_params_that_differ_are_columns():
    assert changed_params(parse_exp_show(exp_show())) == ["eval.beam_size", "model.units"]


def test_the_table_fits_120_columns_and_names_the_failed_run():
    text = table(parse_exp_show(exp_show()))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    assert lines[0].split() == ["Experiment", "beam_size", "units", "BLEU", "tok", "BLEU", "chrF", "dev", "loss"]
    assert lines[4].split() == ["wide", "1", "64", "22.25", "23.25", "44.50", "1.580"]
    assert "broken (failed)" in text and "seconds" not in text and "12.5" not in text  # no timings


def test_params_that_do_not_fit_are_named_below_the_table():
    many = exp_show()
    for i, exp in enumerate(many[1]["experiments"][:2]):
        p = exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
        p["model"].update({f"knob_with_a_long_name_{k}": f"value-{i}-{k}" for k in range(12)})
    text = table(parse_exp_show(many), width=100)
    assert max(map(len, text.splitlines())) <= 100
    assert "(also changed, not shown for width: " in text and "model.knob_with_a_long_name_" in text.splitlines()[-1]
