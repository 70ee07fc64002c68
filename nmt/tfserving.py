"""TensorFlow Serving's REST API for the serving SavedModel's signatures, as plain data.

What `nmt serve` accepts and answers on `/v1/models/<name>...`, so that a client written against
it works unchanged against `tensorflow_model_server --model_base_path=.../models/bundle/serving`
(the signatures are nmt/serving.py's; the formats are TF Serving's documented REST API,
https://www.tensorflow.org/tfx/serving/api_rest):

    translate / serving_default   sentences: string [None]                     -> translations
    translate_beam                sentences: string [None], beam_size: int32 [],
                                  length_penalty: float32 []                   -> translations

    row format       {"signature_name": ..., "instances": ["a", "b"]}     -> {"predictions": ["A", "B"]}
                     (or "instances": [{"sentences": "a"}, ...]: the one-input signature only)
    columnar format  {"signature_name": ..., "inputs": ["a", "b"]}        -> {"outputs": ["A", "B"]}
                     {"inputs": {"sentences": [...], "beam_size": 5, "length_penalty": 1.0}}
    errors           {"error": "<one line>"}

One output tensor, so its name is left out of the answer, as TF Serving does. A string may also
be sent as {"b64": "<base64 of its UTF-8 bytes>"}. Parsing raises `RequestError`, with the HTTP
status to answer, for anything the SavedModel would refuse and for this server's size limits.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import Any

from nmt.errors import UserError

VERSION = "1"  # the SavedModel's folder, models/bundle/serving/1
SIGNATURES = {
    "serving_default": {"sentences": "DT_STRING"},
    "translate": {"sentences": "DT_STRING"},
    "translate_beam": {"sentences": "DT_STRING", "beam_size": "DT_INT32", "length_penalty": "DT_FLOAT"},
}
OUTPUT = "translations"
# TF Serving's own URL pattern (http_rest_api_util.cc), with the verb after the colon.
MODEL_URL = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?(?::(\w+)|/(metadata))?")


class RequestError(UserError, ValueError):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """How much one request may ask for."""

    max_sentences: int = 256  # sentences in one request
    max_sentence_chars: int = 2000  # characters in one sentence (decoding stops at 400 tokens anyway)
    max_beam: int = 16


@dataclass(frozen=True)
class Predict:
    signature: str
    sentences: list[str]
    row_format: bool
    beam_size: int = 1
    length_penalty: float = 1.0


def servable(name: str, served: str, version: str | None, label: str | None) -> None:
    """Refuse a model name, version or label that is not served, in TF Serving's words."""
    spec = f"Specific({name}, {version})" if version else f"Latest({name})"
    if label:
        raise RequestError(f"Unrecognized servable version label: {label}", 404)
    if name != served or (version is not None and version != VERSION):
        raise RequestError(f"Servable not found for request: {spec}", 404)


def parse_predict(body: Any, limits: Limits) -> Predict:
    if not isinstance(body, dict):
        raise RequestError('the body must be a JSON object with "instances" or "inputs"')
    signature = body.get("signature_name", "serving_default")
    if not isinstance(signature, str) or signature not in SIGNATURES:
        raise RequestError(f"Serving signature name: {signature!r} not found in signature def (have: {', '.join(SIGNATURES)})")
    if ("instances" in body) == ("inputs" in body):
        raise RequestError('the body must have exactly one of "instances" (row format) or "inputs" (columnar format)')
    if extra := set(body) - {"signature_name", "instances", "inputs"}:
        raise RequestError(f"unknown key(s) in the request: {', '.join(sorted(extra))}")
    wanted = SIGNATURES[signature]
    if "instances" in body:
        if len(wanted) > 1:
            raise RequestError(
                f"{signature}'s beam_size and length_penalty are scalars, not one per sentence: "
                'send them in the columnar format, {"inputs": {"sentences": [...], "beam_size": 5, "length_penalty": 1.0}}'
            )
        rows = body["instances"]
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows) and rows:
            rows = [_only_key(r, "sentences", f"instance {n}") for n, r in enumerate(rows)]
        return Predict(signature, sentences(rows, limits), row_format=True)
    inputs = body["inputs"]
    if not isinstance(inputs, dict):
        inputs = {"sentences": inputs} if len(wanted) == 1 else inputs
    if not isinstance(inputs, dict) or set(inputs) != set(wanted):
        got = set(inputs) if isinstance(inputs, dict) else set()
        raise RequestError(
            f"{signature} takes inputs {', '.join(wanted)}; missing: {', '.join(sorted(set(wanted) - got)) or 'none'}, "
            f"unknown: {', '.join(sorted(got - set(wanted))) or 'none'}"
        )
    if len(wanted) == 1:
        return Predict(signature, sentences(inputs["sentences"], limits), row_format=False)
    beam, penalty = options(inputs["beam_size"], 1, inputs["length_penalty"], limits)
    return Predict(signature, sentences(inputs["sentences"], limits), False, beam, penalty)


def predict_response(request: Predict, translations: list[str]) -> dict:
    return {"predictions" if request.row_format else "outputs": translations}


def sentences(value: Any, limits: Limits) -> list[str]:
    """A non-empty list of sentences (strings or {"b64": ...}) within the limits."""
    if not isinstance(value, list):
        raise RequestError(f"sentences must be a list of strings, got {_kind(value)}")
    if not value:
        raise RequestError("no sentences: the list is empty")
    if len(value) > limits.max_sentences:
        raise RequestError(f"{len(value)} sentences in one request; the limit is {limits.max_sentences} (send several requests)", 413)
    out = []
    for n, s in enumerate(value):
        if isinstance(s, dict):
            s = _b64(_only_key(s, "b64", f"sentence {n}"), n)
        if not isinstance(s, str):
            raise RequestError(f"sentence {n} must be a string, got {_kind(s)}")
        if len(s) > limits.max_sentence_chars:
            raise RequestError(f"sentence {n} has {len(s)} characters; the limit is {limits.max_sentence_chars}", 413)
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestError(f"sentence {n} is not valid Unicode (a lone surrogate escape)") from None
        out.append(s)
    return out


def options(beam_size: Any, n_best: Any, length_penalty: Any, limits: Limits) -> tuple[int, float]:
    """Checked beam size (n_best must not exceed it) and length penalty."""
    for key, v in (("beam_size", beam_size), ("n_best", n_best)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= limits.max_beam:
            raise RequestError(f"{key} must be an integer from 1 to {limits.max_beam}, got {v!r}")
    if not isinstance(length_penalty, int | float) or isinstance(length_penalty, bool) or not math.isfinite(length_penalty):
        raise RequestError(f"length_penalty must be a finite number, got {length_penalty!r}")
    return beam_size, float(length_penalty)


def model_status() -> dict:
    return {"model_version_status": [{"version": VERSION, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}


def _only_key(obj: dict, key: str, where: str):
    if set(obj) != {key}:
        raise RequestError(f'{where} must be {{"{key}": ...}}, got keys {", ".join(sorted(map(str, obj))) or "none"}')
    return obj[key]


def _b64(value: Any, n: int) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (TypeError, binascii.Error, UnicodeDecodeError) as e:
        raise RequestError(f"sentence {n}: b64 must be base64 of UTF-8 text ({e.__class__.__name__})") from None


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(v), "a number")
