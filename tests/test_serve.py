"""`nmt serve` as a client sees it: a real server process on 127.0.0.1 over a tiny bundle, TF
Serving's request and answer shapes, answers equal to `nmt translate`'s (and to the SavedModel's
signatures), every kind of bad request answered in one line while the server keeps serving,
batching across concurrent requests, SIGTERM, and the web page in a real headless chromium."""

import json
import os
import shutil
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import keras
import pytest
from browser import HEADLESS
from conftest import TINY_SOURCE, tiny_bundle
from serve_helpers import running_server

from nmt.config import ModelParams
from nmt.serving import save_serving_model, serving_batches
from nmt.translate import Translator

SENTENCES = TINY_SOURCE + ["tea ?", "You like green coffee, I like water.", "", "zebra unknown words ."]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    keras.utils.set_random_seed(1)
    path = tmp_path_factory.mktemp("serve") / "bundle"
    tiny_bundle(path, ModelParams(embedding_dim=8, units=16))
    return path


@pytest.fixture(scope="module")
def translator(bundle):
    return Translator(bundle)


@pytest.fixture(scope="module")
def server(bundle, tmp_path_factory):
    with running_server(bundle, tmp_path_factory.mktemp("serve-log"), "--max-wait-ms", "20") as s:
        yield s


def test_it_listens_on_127_0_0_1_by_default_and_says_it_is_healthy_and_ready(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server.get("/healthz") == (200, {"status": "ok"})
    assert server.get("/readyz") == (200, {"status": "ready"})


def test_the_model_status_api_answers_as_tf_serving_does(server):
    want = {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert server.get("/v1/models/nmt") == (200, want)
    assert server.get("/v1/models/nmt/versions/1") == (200, want)
    assert server.get("/v1/models/other") == (404, {"error": "Servable not found for request: Latest(other)"})
    assert server.get("/v1/models/nmt/versions/7") == (404, {"error": "Servable not found for request: Specific(nmt, 7)"})


def test_predict_in_row_and_columnar_format_answers_as_nmt_translate(server, translator):
    want = translator.translate(SENTENCES)
    assert len(set(want)) > 4  # different outputs: the comparison means something
    for path in ("/v1/models/nmt:predict", "/v1/models/nmt/versions/1:predict"):
        assert server.post(path, {"instances": SENTENCES}) == (200, {"predictions": want})
    assert server.post("/v1/models/nmt:predict", {"signature_name": "translate", "instances": [{"sentences": s} for s in SENTENCES]}) == (
        200,
        {"predictions": want},
    )
    assert server.post("/v1/models/nmt:predict", {"inputs": SENTENCES}) == (200, {"outputs": want})
    assert server.post("/v1/models/nmt:predict", {"signature_name": "serving_default", "inputs": {"sentences": SENTENCES}}) == (200, {"outputs": want})
    beam = {"signature_name": "translate_beam", "inputs": {"sentences": SENTENCES, "beam_size": 3, "length_penalty": 1.0}}
    assert server.post("/v1/models/nmt:predict", beam) == (200, {"outputs": translator.translate(SENTENCES, beam_size=3)})


def test_predict_answers_what_the_savedmodel_signatures_give_for_the_same_request(server, bundle, translator, tmp_path):
    import tensorflow as tf

    signatures = tf.saved_model.load(str(save_serving_model(translator.bundle, tmp_path))).signatures
    batch = serving_batches(translator, SENTENCES)[0]  # the order in which both pad alike
    greedy = [t.decode() for t in signatures["translate"](sentences=tf.constant(batch))["translations"].numpy()]
    assert server.post("/v1/models/nmt:predict", {"instances": batch}) == (200, {"predictions": greedy})
    beam = signatures["translate_beam"](sentences=tf.constant(batch), beam_size=tf.constant(3), length_penalty=tf.constant(0.6))
    body = {"signature_name": "translate_beam", "inputs": {"sentences": batch, "beam_size": 3, "length_penalty": 0.6}}
    assert server.post("/v1/models/nmt:predict", body) == (200, {"outputs": [t.decode() for t in beam["translations"].numpy()]})


def test_the_json_endpoint_gives_n_best_lists_with_scores(server, translator):
    status, got = server.post("/v1/translate", {"sentences": SENTENCES, "beam_size": 4, "n_best": 3, "length_penalty": 0.8})
    assert status == 200
    want = translator.translate_nbest(SENTENCES, beam_size=4, n_best=3, length_penalty=0.8)
    assert got["translations"] == [h[0].text if h else "" for h in want]
    assert [[(x["text"], x["tokens"]) for x in h] for h in got["hypotheses"]] == [[(x.text, x.tokens) for x in h] for h in want]
    assert [x["score"] for h in got["hypotheses"] for x in h] == pytest.approx([x.score for h in want for x in h], rel=1e-5)
    assert server.post("/v1/translate", {"sentences": ["i like tea ."]})[1]["translations"] == translator.translate(["i like tea ."])


BAD = {  # name: (body, status, words the one-line reason must contain)
    "malformed JSON": (b'{"instances": ["i like tea ."', 400, "malformed JSON"),
    "not an object": (b'["i like tea ."]', 400, "JSON object"),
    "a number for a sentence": ({"instances": ["tea", 3]}, 400, "sentence 1 must be a string"),
    "a string for the list": ({"instances": "i like tea ."}, 400, "must be a list"),
    "a string for beam_size": ({"signature_name": "translate_beam", "inputs": {"sentences": ["tea"], "beam_size": "5", "length_penalty": 1}}, 400, "beam_size"),
    "beam_size in row format": (
        {"signature_name": "translate_beam", "instances": [{"sentences": "tea", "beam_size": 2, "length_penalty": 1}]},
        400,
        "columnar",
    ),
    "a missing input": ({"signature_name": "translate_beam", "inputs": {"sentences": ["tea"]}}, 400, "missing: beam_size, length_penalty"),
    "an unknown signature": ({"signature_name": "classify", "instances": ["tea"]}, 400, "not found"),
    "an empty list": ({"instances": []}, 400, "empty"),
    "a 1 MB body": ({"instances": ["tea " * 250_000]}, 413, "body size"),
    "10,000 sentences": ({"instances": ["tea ."] * 10_000}, 413, "10000 sentences"),
    "an overlong sentence": ({"instances": ["tea " * 1000]}, 413, "4000 characters"),
    "invalid UTF-8": (b'{"instances": ["caf\xe9 au lait"]}', 400, "not valid UTF-8"),
    "a lone surrogate": (b'{"instances": ["\\ud800 tea"]}', 400, "not valid Unicode"),
    "nesting 100,000 deep": (b"[" * 100_000, 400, "malformed JSON"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_request_gets_a_4xx_with_a_one_line_reason_and_the_server_keeps_serving(server, translator, name):
    body, status, words = BAD[name]
    got_status, got = server.post("/v1/models/nmt:predict", body)
    assert (got_status, list(got)) == (status, ["error"]), got
    assert words in got["error"] and "\n" not in got["error"]
    assert server.post("/v1/models/nmt:predict", {"instances": ["i like tea ."]}) == (200, {"predictions": translator.translate(["i like tea ."])})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"sentences": ["tea"], "n_best": 0}, "n_best must be an integer from 1 to 16"),
        ({"sentences": ["tea"], "beam_size": 99}, "beam_size must be an integer from 1 to 16"),
        ({"sentences": ["tea"], "length_penalty": "long"}, "length_penalty must be a finite number"),
        ({"sentences": ["tea"], "beam": 5}, "unknown key(s): beam"),
        ({"text": "tea"}, '"sentences": a list of strings'),
    ],
)
def test_the_json_endpoint_refuses_bad_options_in_one_line(server, body, words):
    status, got = server.post("/v1/translate", body)
    assert (status, list(got)) == (400, ["error"]) and words in got["error"], got


def test_a_request_cancelled_midway_leaves_the_server_serving(server, translator):
    host, port = server.url.removeprefix("http://").split(":")
    big = json.dumps({"instances": SENTENCES * 20}).encode()
    head = f"POST /v1/models/nmt:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n".encode()
    for sent in (head + big[:50], head + big):  # cut off in the body; gone before the answer
        with socket.create_connection((host, int(port))) as s:
            s.sendall(sent)
    assert server.post("/v1/models/nmt:predict", {"instances": SENTENCES}) == (200, {"predictions": translator.translate(SENTENCES)})
    assert server.proc.poll() is None and "Traceback" not in server.log.read_text()


def test_concurrent_requests_are_decoded_in_shared_batches(server, translator):
    before = server.get("/v1/stats")[1]["batches"]
    sentences = (TINY_SOURCE * 6)[:24]
    barrier = threading.Barrier(len(sentences))

    def one(s):
        barrier.wait()
        return server.post("/v1/models/nmt:predict", {"instances": [s]})

    with ThreadPoolExecutor(len(sentences)) as pool:
        answers = list(pool.map(one, sentences))
    assert answers == [(200, {"predictions": translator.translate([s])}) for s in sentences]
    after = server.get("/v1/stats")[1]["batches"]
    new = {int(k): v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    assert sum(k * v for k, v in new.items()) == len(sentences)  # every sentence decoded once
    assert max(new) > 1, new  # and some of them together


def test_sigterm_finishes_the_request_in_flight_and_exits_0(bundle, translator, tmp_path):
    with running_server(bundle, tmp_path, "--max-wait-ms", "2000") as s:  # a lone request waits 2 s in the queue
        answer = {}
        t = threading.Thread(target=lambda: answer.update(r=s.post("/v1/models/nmt:predict", {"instances": ["i like tea ."]})))
        t.start()
        deadline = time.monotonic() + 30
        while s.get("/v1/stats")[1]["queued_sentences"] == 0 and time.monotonic() < deadline:
            pass
        assert s.get("/v1/stats")[1]["queued_sentences"] == 1  # the request is in flight
        s.proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert answer["r"] == (200, {"predictions": translator.translate(["i like tea ."])})
        assert s.proc.wait(60) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(tuple(s.url.removeprefix("http://").split(":")), timeout=5)
    assert "Traceback" not in s.log.read_text()


@pytest.fixture
def browser(tmp_path):
    """Debian's chromium, headless, through selenium and chromedriver; nothing downloaded."""
    missing = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver") if not shutil.which(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        why = f"no {', '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(why)  # in CI a missing browser is a failure, never a silent pass
        pytest.skip(why)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look anything up
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*HEADLESS, "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def test_the_page_translates_a_typed_sentence_in_a_real_browser(server, translator, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/")
    assert browser.title == "nmt: translate"
    for search, beam in (("greedy", 1), ("beam", 5)):
        box = browser.find_element(By.ID, "source")
        box.clear()
        box.send_keys("i like tea .\nwe drink water .")
        browser.find_element(By.ID, search).click()
        browser.find_element(By.ID, "translate").click()
        WebDriverWait(browser, 60).until(lambda d: "sentence(s) in" in d.find_element(By.ID, "status").text)
        shown = [e.get_attribute("textContent") for e in browser.find_elements(By.CSS_SELECTOR, "#results .translation")]
        assert shown == translator.translate(["i like tea .", "we drink water ."], beam_size=beam), search
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # no failed load, no script error
