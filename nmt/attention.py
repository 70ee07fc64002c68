"""Attention pictures: where the decoder looked in the source for each token it wrote.

The weights come out of the bundle's own decoder-step model: `InferenceModels.step_with_attention`
(nmt/model.py) calls a second Keras model over the same layers that also returns the attention
layer's weights. The bundle's files and the step model's outputs are untouched. `attention_for`
forces a translation's tokens through it; `write_heatmap` draws them as HTML or PNG.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nmt.errors import UserError
from nmt.fsutil import OutputError
from nmt.vocab import BOS_ID, EOS_ID

TEMPLATE = Path(__file__).parent / "vega" / "offline.html"
# Fonts with Japanese (and Chinese, Korean) glyphs first; a browser falls back on its own.
FONTS = "Noto Sans CJK JP, Noto Sans JP, IPAGothic, TakaoGothic, Hiragino Sans, Yu Gothic, sans-serif"


class AttentionError(UserError, ValueError):
    """No attention to show: a model without attention, or an output format we cannot write."""


@dataclass(frozen=True)
class Alignment:
    source: list[str]  # the source tokens the encoder read
    target: list[str]  # the tokens the decoder wrote, `</s>` last
    weights: np.ndarray  # (len(target), len(source)); each row sums to 1


def attention_for(translator, sentence: str, *, beam_size: int = 1, length_penalty: float = 1.0, pretokenized: bool = False) -> Alignment:
    """The translation of one sentence (as `nmt translate` makes it) and its attention weights.
    `pretokenized=True` takes corpus tokens (as in data/split/*), as `Translator.translate_nbest` does."""
    from nmt.decoding import max_lengths
    from nmt.limits import MAX_LEN_A, MAX_LEN_B

    b = translator.bundle
    if len(translator.bundles) > 1:
        raise AttentionError(f"attention pictures show one model's attention, and this is an ensemble of {len(translator.bundles)}: give one model")
    if not b.inference.attention:
        raise AttentionError("this model has no attention (model.attention=none): there is nothing to show")
    tokens = b.source_text.tokens(b.source_text.prepare(sentence, pretokenized=pretokenized))[: translator.max_input_tokens]
    if not tokens:
        raise AttentionError("an empty sentence has no attention to show")
    source = np.asarray([b.source_vocab.encode(tokens)], dtype=np.int32)
    limits = max_lengths(source, MAX_LEN_A, MAX_LEN_B)
    if beam_size == 1:
        out = [int(i) for i in translator.decoder.greedy(source, limits)[0]]
    else:
        hyps = translator.decoder.beam(source, limits, beam_size, length_penalty, 1)[0]
        out = hyps[0][0] if hyps else [EOS_ID]
    out = out[: out.index(EOS_ID) + 1] if EOS_ID in out else out
    weights = b.inference.teacher_forced_attention(source, np.array([[BOS_ID, *out[:-1]]], np.int32))[0]
    return Alignment(tokens, [b.target_vocab.itos[i] for i in out], weights)


def heatmap_spec(a: Alignment, title: str = "") -> dict:
    """A vega-lite heatmap: source tokens across, target tokens down, darker = more weight."""
    values = [
        {"s": j, "t": i, "w": round(float(a.weights[i, j]), 4), "src": a.source[j], "tgt": a.target[i]}
        for i in range(len(a.target))
        for j in range(len(a.source))
    ]

    def axis(tokens, **extra):  # by position (a token may appear twice), labelled with the token
        return {"labelExpr": f"{json.dumps(tokens, ensure_ascii=False)}[datum.value]", "labelFontSize": 13, "title": None, **extra}

    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "data": {"values": values},
        "mark": "rect",
        "width": max(120, 28 * len(a.source)),
        "height": max(80, 24 * len(a.target)),
        "encoding": {
            "x": {"field": "s", "type": "ordinal", "axis": axis(a.source, orient="top", labelAngle=-45)},
            "y": {"field": "t", "type": "ordinal", "axis": axis(a.target)},
            "color": {"field": "w", "type": "quantitative", "scale": {"scheme": "greys", "domain": [0, 1]}, "title": "weight"},
            "tooltip": [{"field": "tgt", "title": "target"}, {"field": "src", "title": "source"}, {"field": "w", "title": "weight"}],
        },
        "config": {"font": FONTS, "background": "white"},
    }


def html_page(specs: list[dict]) -> str:
    """A page that draws the specs offline (the vendored vega libraries of nmt/vega/offline.html)."""

    def js(spec):  # JSON in a <script>: a token such as "</script>" must not end it
        return json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")

    divs = "\n".join(f'<div id="attention{i}"></div>\n<script>vegaEmbed("#attention{i}", {js(s)});</script>' for i, s in enumerate(specs))
    page = TEMPLATE.read_text(encoding="utf-8").replace("{refresh_tag}", "").replace("<title>DVC Plot</title>", "<title>Attention</title>")
    return page.replace("{plot_divs}", divs)


def write_heatmap(alignments: list[Alignment], path: str | Path, titles: list[str] | None = None) -> Path:
    """One picture of each alignment: an HTML page (all of them) or a PNG (the first one)."""
    path = Path(path)
    specs = [heatmap_spec(a, t) for a, t in zip(alignments, titles or [""] * len(alignments))]
    if path.suffix.lower() in (".html", ".htm"):
        data = html_page(specs).encode("utf-8")
    elif path.suffix.lower() == ".png":
        import vl_convert as vlc

        spec = specs[0] if len(specs) == 1 else {"vconcat": [{k: v for k, v in s.items() if k != "config"} for s in specs], "config": specs[0]["config"]}
        data = vlc.vegalite_to_png(spec, scale=2)
    else:
        raise AttentionError(f"--attention {path}: write .html or .png")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)  # a reader sees the old picture or the new one, never half of one
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    return path


def write_attention(translator, sentences: list[str], path: str | Path, *, beam_size: int = 1, length_penalty: float = 1.0) -> int:
    """`nmt translate --attention`: the pictures of `sentences`; 0, or 1 with a one-line error."""
    import sys

    try:
        sentences = [s for s in sentences if s.strip()]
        if not sentences:
            raise AttentionError("an empty sentence has no attention to show")
        found = [attention_for(translator, s, beam_size=beam_size, length_penalty=length_penalty) for s in sentences]
        t = translator.bundle.target_text
        write_heatmap(found, path, [f"{s}  →  {t.detokenize(t.join(a.target[:-1]))}" for s, a in zip(sentences, found)])
    except (AttentionError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"attention: {path}", file=sys.stderr)
    return 0


def sample_pictures(bundle_dir: str | Path, sources: list[str], out_dir: Path) -> tuple[list[Path], str]:
    """`nmt report`: one PNG per sample test sentence (corpus tokens), greedy; ([], why) if none can be made."""
    from nmt.bundle import BundleError
    from nmt.translate import Translator

    if not sources:
        return [], "No sample sentences in this revision."
    try:
        translator = Translator(bundle_dir)
        t = translator.bundle.target_text
        pictures = []
        for i, source in enumerate(sources, 1):
            a = attention_for(translator, source, pretokenized=True)
            title = f"{i}: {t.detokenize(t.join(a.target[:-1]))}"
            pictures.append(write_heatmap([a], out_dir / f"sample_{i}.png", [title]))
    except (BundleError, AttentionError) as e:
        return [], f"No attention pictures: {e}"
    return pictures, ""
