"""`nmt serve`: an HTTP translation service and a web page for an exported bundle.

    nmt serve --model models/bundle            # http://127.0.0.1:8501/ : the page
    curl -d '{"instances": ["Good morning."]}' http://127.0.0.1:8501/v1/models/nmt:predict

Built on aiohttp (asyncio-native, server and client in one, already in the lock through DVC).
Endpoints: TensorFlow Serving's REST predict and model status API for the serving SavedModel's
signatures (nmt/tfserving.py), so a client moves to TF Serving unchanged; `POST /v1/translate`
with what TF Serving lacks (n-best lists and scores); `GET /healthz` (alive), `GET /readyz`
(taking requests), `GET /v1/stats` (queue and batch sizes); the page at `/` (nmt/static/).
Every request's sentences go through one `Batcher` (nmt/batching.py), which decodes concurrent
requests together with the same `Translator` that `nmt translate` uses. SIGTERM or Ctrl-C stops
taking connections, finishes the requests in flight, and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from aiohttp import web

from nmt.batching import Batcher, Closed, Overloaded
from nmt.errors import UserError
from nmt.tfserving import (
    MODEL_URL,
    Limits,
    RequestError,
    model_status,
    options,
    parse_predict,
    predict_response,
    sentences,
    servable,
)

STATIC = Path(__file__).parent / "static"
_json = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))  # readable UTF-8, not \u escapes
log = logging.getLogger("nmt.serve")


class ServeError(UserError, RuntimeError):
    """The server cannot start (e.g. the port is taken)."""


@dataclass(frozen=True)
class ServeConfig:
    name: str = "nmt"  # the model name in /v1/models/<name>
    max_batch: int = 64  # sentences decoded together (also the Translator's batch size)
    max_wait_ms: float = 5.0  # how long a lone request waits for company
    max_queue: int = 4096  # sentences waiting; past that, requests get 503
    max_body_bytes: int = 256 * 1024
    limits: Limits = field(default_factory=Limits)


def make_app(translator, config: ServeConfig = ServeConfig()) -> web.Application:
    """The aiohttp application around `translator` (a `nmt.translate.Translator`)."""

    def translate(batch: list[str], opts: tuple[int, int, float]):
        beam, n_best, penalty = opts
        return translator.translate_nbest(batch, beam_size=max(beam, n_best), n_best=n_best, length_penalty=penalty, batch_size=config.max_batch)

    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[_errors])
    app["config"], app["ready"] = config, False
    app["batcher"] = batcher = Batcher(translate, max_batch=config.max_batch, max_wait_ms=config.max_wait_ms, max_queue=config.max_queue)

    async def start(app):
        batcher.start()
        await batcher.translate(["warm up ."], (1, 1, 1.0))  # traces the greedy decode before the first user waits
        app["ready"] = True

    async def stop_taking(app):  # on SIGTERM, before the requests in flight are awaited
        app["ready"] = False

    async def stop(app):
        await batcher.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop_taking)
    app.on_cleanup.append(stop)
    app.router.add_get("/", _page)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/healthz", lambda r: _json({"status": "ok"}))
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/v1/stats", _stats)
    app.router.add_post("/v1/translate", _translate)
    app.router.add_route("*", "/v1/models/{tail:.*}", _models)
    return app


async def _page(request):
    return web.FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": "default-src 'self'"})


async def _ready(request):
    if request.app["ready"]:
        return _json({"status": "ready"})
    return _error(503, "not ready: starting or shutting down")


async def _stats(request):
    b: Batcher = request.app["batcher"]
    return _json({"queued_sentences": b.queued, "batches": {str(k): v for k, v in sorted(b.batch_sizes.items())}})


async def _models(request):
    """TF Serving: GET /v1/models/<name>[/versions/<v>] (status), POST ...:predict."""
    m = MODEL_URL.fullmatch(request.path)
    if not m:
        raise RequestError(f"Malformed request: {request.method} {request.path}", 404)
    name, version, label, verb, metadata = m.groups()
    servable(name, request.app["config"].name, version, label)
    if request.method == "GET" and not verb and not metadata:
        return _json(model_status())
    if request.method == "POST" and verb == "predict":
        predict = parse_predict(await _body(request), request.app["config"].limits)
        hyps = await request.app["batcher"].translate(predict.sentences, (predict.beam_size, 1, predict.length_penalty))
        return _json(predict_response(predict, [h[0].text if h else "" for h in hyps]))
    if verb in ("classify", "regress") or metadata:
        raise RequestError(f"{verb or metadata} is not served here: only predict and model status", 501)
    raise RequestError(f"Malformed request: {request.method} {request.path}", 404 if verb else 405)


async def _translate(request):
    """POST /v1/translate {"sentences": [...], "beam_size": 1, "n_best": 1, "length_penalty": 1.0}
    -> {"translations": [best, ...], "hypotheses": [[{"text", "tokens", "score"}, ...], ...]}"""
    body = await _body(request)
    if not isinstance(body, dict) or "sentences" not in body:
        raise RequestError('the body must be a JSON object with "sentences": a list of strings')
    if extra := set(body) - {"sentences", "beam_size", "n_best", "length_penalty"}:
        raise RequestError(f"unknown key(s): {', '.join(sorted(extra))} (known: sentences, beam_size, n_best, length_penalty)")
    limits = request.app["config"].limits
    lines = sentences(body["sentences"], limits)
    n_best = body.get("n_best", 1)
    beam, penalty = options(body.get("beam_size", 1), n_best, body.get("length_penalty", 1.0), limits)
    hyps = await request.app["batcher"].translate(lines, (beam, n_best, penalty))
    return _json(
        {
            "translations": [h[0].text if h else "" for h in hyps],
            "hypotheses": [[{"text": x.text, "tokens": x.tokens, "score": x.score} for x in h] for h in hyps],
        }
    )


async def _body(request):
    """The request's JSON, or a RequestError saying in one line what is wrong with it."""
    raw = await request.read()  # over client_max_size: HTTPRequestEntityTooLarge (413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RequestError(f"the body is not valid UTF-8 (byte {raw[e.start]:#04x} at offset {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(f"malformed JSON: {e}") from None
    except RecursionError:
        raise RequestError("malformed JSON: nested too deeply") from None


def _error(status: int, message: str) -> web.Response:
    return _json({"error": (message.splitlines() or ["error"])[0]}, status=status)


@web.middleware
async def _errors(request, handler):
    """Every failure as {"error": "<one line>"} with its status, as TF Serving answers."""
    try:
        return await handler(request)
    except RequestError as e:
        return _error(e.status, str(e))
    except (Overloaded, Closed) as e:
        return _error(503, str(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        text = e.text or ""
        return _error(e.status, e.reason if not text or text.startswith(str(e.status)) else text)
    except ConnectionError:  # the client went away mid-request: nobody to answer
        raise
    except Exception as e:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error(500, f"internal error: {e.__class__.__name__}: {e}")


def serve(model: str | Path, *, host: str = "127.0.0.1", port: int = 8501, config: ServeConfig = ServeConfig()) -> int:
    """Load the bundle, listen until SIGTERM / SIGINT, finish the requests in flight; 0 when done."""
    from nmt.translate import Translator

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if config.max_wait_ms < 0:
        raise ServeError(f"--max-wait-ms must be at least 0, got {config.max_wait_ms}")
    translator = Translator(model)  # BundleError for a missing or broken bundle, before any port is taken
    return asyncio.run(_run(make_app(translator, config), host, port, model, config.name))


async def _run(app: web.Application, host: str, port: int, model, name: str) -> int:
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, access_log=None, shutdown_timeout=60)
    await runner.setup()  # runs on_startup: the warm-up translation
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        await runner.cleanup()
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    bound_host, bound_port = runner.addresses[0][:2]
    print(f"serving {model} as {name!r} on http://{bound_host}:{bound_port}/ (SIGTERM or Ctrl-C to stop)", flush=True)
    await stop.wait()
    print("stopping: finishing the requests in flight", file=sys.stderr, flush=True)
    await runner.cleanup()
    return 0
