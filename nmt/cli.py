"""The `nmt` command: `nmt translate`, `nmt summary`, `nmt report`, `nmt experiments` and `nmt serve`.

nmt translate "I can't tell who will arrive first."      # sentences as arguments
nmt translate < input.txt > output.txt                    # or one per line on stdin (nmt/cli_input.py)
nmt translate --beam 5 --n-best 3 "good morning ."        # Moses n-best lists
nmt translate --model a/bundle --model b/bundle "hello ." # an ensemble of two bundles (nmt/ensemble.py)
nmt summary                                               # model.summary() and diagrams
nmt report --base main                                    # report/report.md for a pull request
nmt translate --attention attention.html "I like tea."   # and a picture of where it looked
nmt report my-experiment --base main                      # the same for an experiment of `dvc exp show`
nmt experiments                                           # dvc exp show, narrowed to what differs
nmt serve --model models/bundle                           # HTTP service and web page (nmt/serve.py)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nmt.config import finite_float

if TYPE_CHECKING:
    from nmt.artifacts import BundleConfig

DEFAULT_BUNDLE = "models/bundle"
MAX_BEAM = 64  # 64 sentences at beam 64: 0.92 GB peak with the default model (0.67 greedy); beam 1000 took 3.9 GB
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)  # batches decoded at once; memory grows with them
READ_AHEAD = 4  # batches a worker has to go at when lines are waiting: a long batch does not leave the others idle


def cmd_translate(args) -> int:
    from nmt import cli_input

    # Input first: its mistakes are reported before the model takes seconds to load.
    typed = not args.sentences and not args.file and cli_input.is_terminal()
    if typed:
        print(f"loading {' + '.join(args.model)} (Ctrl-C to cancel) ...", file=sys.stderr, flush=True)
    elif not args.sentences:
        reader = cli_input.open_file(args.file) if args.file else cli_input.open_stdin()

    with _keras_without_pandas():
        from nmt.translate import Translator

    _threads_per_op(args.workers)
    translator = Translator(args.model)
    if args.sentences:
        batches = [args.sentences]
    elif typed:
        batches = ([line] for line in cli_input.typed_lines(_prompt(translator.bundle.config)))
    else:
        batches = cli_input.batches(reader, args.batch_size * args.workers * READ_AHEAD)
    n = 0
    for batch in batches:
        results = translator.translate_nbest(
            batch,
            beam_size=args.beam,
            n_best=args.n_best,
            length_penalty=args.length_penalty,
            batch_size=args.batch_size,
            workers=args.workers,
            number_from=n + 1,
            show_unk=args.show_unk,
        )
        for hyps in results:
            print("\n".join(_output_lines(n, hyps, args)))
            n += 1
        sys.stdout.flush()
    if args.attention:
        from nmt.attention import write_attention

        return write_attention(translator, args.sentences, args.attention, beam_size=args.beam, length_penalty=args.length_penalty)
    return 0


def _threads_per_op(workers: int) -> None:
    """The cores shared out among the batches decoded at once: TensorFlow's threads per op. On 2
    cores, two batches with one thread each decode 1.8x (greedy) / 1.4x (beam 5) the sentences a
    second of one batch at a time on both (BENCHMARKS.md). Settable only before TensorFlow starts
    in the process (it has when `main` runs inside a test or a notebook): then left as it is."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 1) // workers))
    except RuntimeError:
        pass


@contextlib.contextmanager
def _keras_without_pandas():
    """Keras imports pandas, if installed, only so that `fit` can take DataFrames: a sixth of the
    imports of `nmt translate "..."` besides TensorFlow (`python -X importtime`). While Keras is
    first imported here, pandas looks absent; afterwards it can be imported as usual."""
    if "keras" in sys.modules or "pandas" in sys.modules:
        yield
        return
    sys.modules["pandas"] = None  # `import pandas` raises ImportError
    try:
        yield
    finally:
        del sys.modules["pandas"]


def _output_lines(n: int, hyps: list, args) -> list[str]:
    """The translation of sentence n (from 0), or its n-best list in the Moses format:
    number ||| translation ||| features ||| score. An empty input line has no hypotheses."""
    if args.n_best == 1:
        return [(hyps[0].tokens if args.tokens else hyps[0].text) if hyps else ""]
    if not hyps:  # one empty hypothesis, so that every sentence number appears
        return [f"{n} |||  ||| logprob= 0.0000 length= 0 ||| 0.0000"]
    return [f"{n} ||| {h.tokens if args.tokens else h.text} ||| logprob= {h.log_prob:.4f} length= {h.length} ||| {h.score:.4f}" for h in hyps]


def _prompt(config: BundleConfig) -> str:
    """`en→ja> `: the bundle's language pair (ASCII where the terminal cannot show the arrow)."""
    arrow = "→" if (sys.stdout.encoding or "").lower().replace("-", "") == "utf8" else "-"
    return f"{config.source.lang}{arrow}{config.target.lang}> "


def cmd_summary(args) -> int:
    import keras

    from nmt.bundle import load_bundle

    bundle = load_bundle(args.model)
    models = []
    if Path(args.training_model).is_file():
        models.append(("training", keras.models.load_model(args.training_model, compile=False)))
    else:
        print(f"(no training model at {args.training_model}; run `dvc repro train` to see it too)\n")
    models += [("encoder", bundle.encoder), ("decoder_step", bundle.decoder_step)]
    for _, model in models:
        model.summary(expand_nested=True)
        print()
    out = Path(args.plot_dir)
    try:
        import pydot  # noqa: F401

        out.mkdir(parents=True, exist_ok=True)
        for name, model in models:
            keras.utils.plot_model(model, to_file=str(out / f"{name}.png"), show_shapes=True, show_layer_names=True)
        print(f"diagrams written to {out}/: " + ", ".join(f"{name}.png" for name, _ in models))
    except (ImportError, OSError) as e:
        print(
            f"no diagrams ({e.__class__.__name__}: {e}).\n"
            "To draw them, install Graphviz and pydot: `sudo apt-get install graphviz` (or `brew install graphviz`), "
            "then `pip install pydot`.",
            file=sys.stderr,
        )
    return 0


def cmd_report(args) -> int:
    from nmt.report import build_report

    path = build_report(args.base, Path(args.out), head=args.experiment)
    print(f"report: {path}")
    return 0


def cmd_serve(args) -> int:
    from nmt.serve import ServeConfig, ServeError, serve
    from nmt.tfserving import Limits

    limits = Limits(max_sentences=args.max_request_sentences, max_sentence_chars=args.max_sentence_chars)
    config = ServeConfig(name=args.name, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, limits=limits)
    try:
        return serve(args.model, host=args.host, port=args.port, config=config)
    except ServeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def cmd_experiments(args) -> int:
    from nmt.experiments import main as show_experiments

    return show_experiments(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nmt", description="Translate with, or inspect, an exported seq2seq bundle.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "translate",
        help="translate sentences (arguments, --file, or stdin one per line)",
        description="Translate sentences given as arguments, in --file, on stdin one per line, or typed at a terminal.",
    )
    t.add_argument("sentences", nargs="*", help="sentences to translate; none: read lines from --file or stdin")
    t.add_argument(
        "--model",
        action="append",
        help=f"the exported bundle (default: {DEFAULT_BUNDLE}); given more than once: an ensemble, their next-token log-probabilities averaged",
    )
    t.add_argument("--file", help="read sentences from this UTF-8 file, one per line")
    t.add_argument("--beam", type=_positive, help=f"beam size, at most {MAX_BEAM} (default 1: greedy; with --n-best N: N)")
    t.add_argument(
        "--n-best", type=_positive, default=1, help="print this many hypotheses per sentence, in Moses n-best format: n ||| translation ||| features ||| score"
    )
    t.add_argument("--length-penalty", type=finite_float, default=1.0, help="beam scores are log-prob / length**this (default 1.0)")
    t.add_argument("--batch-size", type=_positive, default=64, help="sentences decoded together (default 64)")
    t.add_argument(
        "--workers",
        type=_positive,
        default=DEFAULT_WORKERS,
        help=f"batches decoded at once, each on its share of the cores (default {DEFAULT_WORKERS}: the cores, at most 4; memory grows with it)",
    )
    t.add_argument("--tokens", action="store_true", help="print corpus tokens instead of detokenized text")
    t.add_argument("--show-unk", action="store_true", help="print <unk> where the model wrote it, instead of the source word carried over")
    t.add_argument("--attention", metavar="OUT.html|OUT.png", help="also draw the attention of the sentences given as arguments (HTML: all, PNG: the first)")
    t.set_defaults(func=cmd_translate, check=lambda args: _check_translate_args(t, args))

    s = sub.add_parser("summary", help="print model.summary() of the training and inference models, draw diagrams")
    s.add_argument("--model", default=DEFAULT_BUNDLE, help=f"the exported bundle (default: {DEFAULT_BUNDLE})")
    s.add_argument("--training-model", default="models/train/model.keras", help="the trained model (default: models/train/model.keras)")
    s.add_argument("--plot-dir", default="models/diagrams", help="where to write the diagrams (default: models/diagrams)")
    s.set_defaults(func=cmd_summary)

    r = sub.add_parser("report", help="a markdown report of what the workspace (or an experiment) changed against a base revision")
    r.add_argument("experiment", nargs="?", help="an experiment name (`dvc exp show`) or any git revision to report on (default: the workspace)")
    r.add_argument("--base", default="main", help="the revision to compare with (default: main)")
    r.add_argument("--out", default="report", help="folder for report.md and its images (default: report)")
    r.set_defaults(func=cmd_report)

    e = sub.add_parser("experiments", help="the experiments in one narrow table: changed params and quality metrics")
    e.add_argument("-A", "--all-commits", action="store_true", help="experiments of every commit, not only HEAD's")
    e.add_argument("--width", type=_positive, default=120, help="at most this many columns (default 120)")
    e.set_defaults(func=cmd_experiments)

    v = sub.add_parser("serve", help="an HTTP translation service (TF Serving's REST API) and a web page")
    v.add_argument("--model", default=DEFAULT_BUNDLE, help=f"the exported bundle (default: {DEFAULT_BUNDLE})")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8501, help="port (default 8501, TF Serving's REST port; 0: any free one)")
    v.add_argument("--name", default="nmt", help="the model name in /v1/models/<name> (default: nmt)")
    v.add_argument("--max-batch", type=_positive, default=64, help="sentences of concurrent requests decoded together (default 64)")
    v.add_argument("--max-wait-ms", type=finite_float, default=5.0, help="how long a request waits for others to batch with (default 5)")
    v.add_argument("--max-request-sentences", type=_positive, default=256, help="sentences in one request (default 256)")
    v.add_argument("--max-sentence-chars", type=_positive, default=2000, help="characters in one sentence (default 2000)")
    v.set_defaults(func=cmd_serve)
    return parser


def _check_translate_args(parser: argparse.ArgumentParser, args) -> None:
    """Option combinations that cannot do what they say: refused before anything loads."""
    if args.sentences and args.file:
        parser.error("give sentences as arguments or with --file, not both")
    args.model = args.model or [DEFAULT_BUNDLE]
    if args.attention and len(args.model) > 1:
        parser.error("--attention draws one model's attention: give one --model, not an ensemble")
    if args.attention and (not args.sentences or Path(args.attention).suffix.lower() not in (".html", ".png")):
        parser.error("--attention OUT.html or OUT.png draws the sentences given as arguments")
    if args.beam is None:
        args.beam = args.n_best
    if args.beam > MAX_BEAM:
        parser.error(f"--beam {args.beam} is more than {MAX_BEAM}, the most this command allows (memory grows with beam x batch)")
    if args.n_best > args.beam:
        parser.error(f"--n-best {args.n_best} needs --beam {args.n_best} or more (got --beam {args.beam}): a beam of K keeps only K hypotheses")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-nmt")
    except PackageNotFoundError:  # run from a source tree that was not pip-installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    # oneDNN's start-up lines (five on stderr, one of them an E0000 "error") go away with its custom
    # ops off; the test set's translations were the same with and without, greedy decoding a few
    # per cent slower (BENCHMARKS.md). Only the CLI does this: stages keep oneDNN. A user's setting wins.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # At exit, Python's last garbage collection walks every object TensorFlow made: about 1 s of a
    # 3 s `nmt translate "..."` on 2 cores (benchmarks/bench_decode.py). Freezing them first skips
    # that walk; the process is ending, so nothing is kept that would have been freed for later use.
    atexit.unregister(gc.freeze)  # once, however often main() runs in one process
    atexit.register(gc.freeze)
    # nmt.errors imports nothing (nmt.bundle would import TensorFlow outside the `try`: Ctrl-C while it
    # loads would end in a traceback)
    from nmt.errors import UserError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if hasattr(args, "check"):
            args.check(args)
        return args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `nmt translate < big.txt | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
