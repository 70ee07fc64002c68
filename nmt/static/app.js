// The page's one job: send the textarea's lines to POST /v1/translate and show what comes back.
"use strict";

const form = document.getElementById("form");
const source = document.getElementById("source");
const results = document.getElementById("results");
const status = document.getElementById("status");
const button = document.getElementById("translate");

function show(message, isError) {
  status.textContent = message;
  status.className = isError ? "error" : "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const sentences = source.value.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
  if (sentences.length === 0) {
    show("Type a sentence first.", true);
    return;
  }
  const beam = document.getElementById("beam").checked;
  const body = { sentences, beam_size: beam ? Number(document.getElementById("beam-size").value) : 1 };
  button.disabled = true;
  show("translating…", false);
  const started = performance.now();
  try {
    const response = await fetch("/v1/translate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) {
      show(answer.error || `error ${response.status}`, true);
      return;
    }
    results.replaceChildren(...sentences.map((s, i) => {
      const item = document.createElement("li");
      const src = document.createElement("div");
      src.className = "source";
      src.textContent = s;
      const out = document.createElement("div");
      out.className = "translation";
      out.textContent = answer.translations[i];
      item.append(src, out);
      return item;
    }));
    show(`${sentences.length} sentence(s) in ${Math.round(performance.now() - started)} ms`, false);
  } catch (error) {
    show(`the server did not answer (${error.message})`, true);
  } finally {
    button.disabled = false;
  }
});
