"""Ensembles: several exported bundles decoding together, as one pair of inference models.

`EnsembleModels` has the interface of `nmt.model.InferenceModels` (`encode`, `step`), so greedy
and beam search (nmt/decoding.py) run over it unchanged: its memory and states are the members'
lists one after the other, and search only tiles and reorders them by rows. At every step the
next-token distribution is the members' log-probabilities averaged, then renormalised:
log_softmax(mean_m log p_m), the normalised geometric mean of the members' distributions (a
product of experts, as Marian ensembles; fairseq averages probabilities instead). Renormalising
keeps beam scores and n-best `logprob=` true log-probabilities of a distribution over the target
vocabulary: without it every step would also be charged log sum_v prod_m p_m(v)^(1/M) <= 0, a
penalty for the members' disagreement that grows with the output's length. Greedy search picks
the same tokens either way. The members must share their vocabularies and text settings (the
token ids must mean the same); their architectures may differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from keras import ops

from nmt.bundle import Bundle, BundleError, load_bundle
from nmt.model import InferenceModels


class EnsembleModels:
    """Several members' inference models called as one: `encode` -> (memory, states) and
    `step` -> (log-probabilities, states), each the concatenation of the members' lists."""

    def __init__(self, members: Sequence[InferenceModels]):
        if not members:
            raise ValueError("an ensemble needs at least one model")
        self.members = list(members)
        # How many of the step's inputs each member takes as states and as memory: the step
        # model's inputs are [previous token, *states, *memory] (nmt/model.py).
        self.layout = [(len(m.state_names), len(m.decoder_step.inputs) - 1 - len(m.state_names)) for m in self.members]

    def encode(self, source):
        """(B, S) source ids -> (memory, states) of all members, member by member."""
        memory, states = [], []
        for m in self.members:
            mem, st = m.encode(source)
            memory += mem
            states += st
        return memory, states

    def step(self, tokens, states, memory):
        """(B, 1) previous tokens -> ((B, V) log_softmax of the members' mean log-probabilities, new states)."""
        log_probs, new_states = [], []
        s = r = 0
        for m, (n_states, n_memory) in zip(self.members, self.layout):
            lp, st = m.step(tokens, states[s : s + n_states], memory[r : r + n_memory])
            log_probs.append(lp)
            new_states += st
            s, r = s + n_states, r + n_memory
        mean = ops.mean(ops.stack(log_probs), axis=0)  # (B, V)
        return ops.log_softmax(mean, axis=-1), new_states


def check_compatible(bundles: Sequence[Bundle], names: Sequence[str]) -> None:
    """Refuse members whose token ids or text would not mean the same: one line naming both bundles."""
    first, first_name = bundles[0], names[0]
    for b, name in zip(bundles[1:], names[1:]):
        for what, a, c in (
            ("source vocabulary", first.source_vocab.itos, b.source_vocab.itos),
            ("target vocabulary", first.target_vocab.itos, b.target_vocab.itos),
            ("source text settings", _text(first.source_text), _text(b.source_text)),
            ("target text settings", _text(first.target_text), _text(b.target_text)),
            ("corpus tokenization (pretokenized)", first.config.pretokenized, b.config.pretokenized),
        ):
            if a != c:
                raise BundleError(f"cannot ensemble {first_name} and {name}: they differ in their {what}{_difference(a, c)}")


MODEL_FILES = ("subword_model", "segmenter_model")  # TextPipeline fields naming a file in the bundle


def _text(pipeline) -> dict:
    """A text pipeline's settings, its model files by content (each bundle has its own copies)."""
    d = asdict(pipeline)
    for key in MODEL_FILES:
        if d.get(key):
            d[key] = "sha256 " + hashlib.sha256(Path(d[key]).read_bytes()).hexdigest()[:12]
    return d


def _difference(a, b) -> str:
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f" ({len(a)} entries against {len(b)})"
        i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        return f" (entry {i}: {a[i]!r} against {b[i]!r})"
    if isinstance(a, dict):
        return " (" + ", ".join(f"{k}: {a[k]!r} against {b.get(k)!r}" for k in a if a[k] != b.get(k)) + ")"
    return f" ({a!r} against {b!r})"


def load_ensemble(bundles: Sequence[Bundle | str | Path]) -> tuple[list[Bundle], InferenceModels | EnsembleModels]:
    """Load (where given as paths) and check the members; returns them and the inference models
    to decode with: the one bundle's own for a single member, else an `EnsembleModels`."""
    if not bundles:
        raise ValueError("an ensemble needs at least one model")
    loaded = [b if isinstance(b, Bundle) else load_bundle(b) for b in bundles]
    if len(loaded) == 1:
        return loaded, loaded[0].inference
    check_compatible(loaded, [str(b) if not isinstance(b, Bundle) else f"bundle {i + 1}" for i, b in enumerate(bundles)])
    return loaded, EnsembleModels([b.inference for b in loaded])
