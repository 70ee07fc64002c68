"""The `nmt` command: `nmt translate`, `nmt summary` and `nmt report`.

    nmt translate "I can't tell who will arrive first."      # sentences as arguments
    nmt translate < input.txt > output.txt                    # or one per line on stdin
    nmt translate --beam 5 --n-best 3 "good morning ."
    nmt translate --attention attention.html "I like tea."   # and a picture of where it looked
    nmt summary                                               # model.summary() and diagrams
    nmt report --base main                                    # report/report.md for a pull request
    nmt experiments                                           # dvc exp show, narrowed to what differs
    nmt serve --model models/bundle                           # HTTP service and web page (nmt/serve.py)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from nmt.config import finite_float

DEFAULT_BUNDLE = "models/bundle"


def _batches(lines: Iterable[str], size: int, interactive: bool) -> Iterator[list[str]]:
    """Groups of input lines; one at a time when a person is typing them."""
    it = iter(lines)
    while batch := list(itertools.islice(it, 1 if interactive else size)):
        yield batch


def cmd_translate(args) -> int:
    from nmt.translate import Translator

    translator = Translator(args.model)
    if args.sentences:
        source: Iterable[str] = args.sentences
        interactive = False
    else:
        stream = open(args.file, encoding="utf-8", errors="replace") if args.file else sys.stdin
        source = (line.rstrip("\r\n") for line in stream)
        interactive = args.file is None and sys.stdin.isatty()
        if interactive:
            print("Type a sentence and press Enter (Ctrl-D to quit).", file=sys.stderr)
    n = 0
    for batch in _batches(source, args.batch_size, interactive):
        results = translator.translate_nbest(
            batch, beam_size=max(args.beam, args.n_best), n_best=args.n_best,
            length_penalty=args.length_penalty, batch_size=args.batch_size,
        )
        for hyps in results:
            if args.n_best == 1:
                print(hyps[0].tokens if args.tokens and hyps else hyps[0].text if hyps else "")
            else:  # Moses n-best format: sentence number ||| translation ||| score
                for h in hyps or []:
                    print(f"{n} ||| {h.tokens if args.tokens else h.text} ||| {h.score:.4f}")
                if not hyps:  # an empty line: one empty hypothesis, so that every sentence number appears
                    print(f"{n} |||  ||| 0.0000")
            n += 1
        sys.stdout.flush()
    if args.attention:
        from nmt.attention import write_attention

        return write_attention(translator, args.sentences, args.attention, beam_size=args.beam, length_penalty=args.length_penalty)
    return 0


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

    path = build_report(args.base, Path(args.out))
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
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("translate", help="translate sentences (arguments, --file, or stdin one per line)")
    t.add_argument("sentences", nargs="*", help="sentences to translate; none: read lines from --file or stdin")
    t.add_argument("--model", default=DEFAULT_BUNDLE, help=f"the exported bundle (default: {DEFAULT_BUNDLE})")
    t.add_argument("--file", help="read sentences from this UTF-8 file, one per line")
    t.add_argument("--beam", type=_positive, default=1, help="beam size (default 1: greedy)")
    t.add_argument("--n-best", type=_positive, default=1, help="print this many hypotheses per sentence (Moses n-best format)")
    t.add_argument("--length-penalty", type=finite_float, default=1.0, help="beam scores are log-prob / length**this (default 1.0)")
    t.add_argument("--batch-size", type=_positive, default=64, help="sentences decoded together (default 64)")
    t.add_argument("--tokens", action="store_true", help="print corpus tokens instead of detokenized text")
    t.add_argument("--attention", metavar="OUT.html|OUT.png", help="also draw the attention of the sentences given as arguments (HTML: all, PNG: the first)")
    t.set_defaults(func=cmd_translate)

    s = sub.add_parser("summary", help="print model.summary() of the training and inference models, draw diagrams")
    s.add_argument("--model", default=DEFAULT_BUNDLE, help=f"the exported bundle (default: {DEFAULT_BUNDLE})")
    s.add_argument("--training-model", default="models/train/model.keras", help="the trained model (default: models/train/model.keras)")
    s.add_argument("--plot-dir", default="models/diagrams", help="where to write the diagrams (default: models/diagrams)")
    s.set_defaults(func=cmd_summary)

    r = sub.add_parser("report", help="a markdown report of what the workspace changed against a base revision")
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "attention", None) and (not args.sentences or Path(args.attention).suffix.lower() not in (".html", ".png")):
        parser.error("--attention OUT.html or OUT.png draws the sentences given as arguments")
    from nmt.bundle import BundleError
    from nmt.report import ReportError

    try:
        return args.func(args)
    except (BundleError, ReportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `nmt translate < big.txt | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
