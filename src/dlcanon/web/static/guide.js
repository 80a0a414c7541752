// dlcanon guide: timeline search/filters/selection and the paper page's run control. No library, no inline script.
"use strict";

function timeline() {
  const form = document.getElementById("filters");
  if (!form) return;
  const q = document.getElementById("q"), tier = document.getElementById("tier"), era = document.getElementById("era");
  const impl = document.getElementById("impl"), count = document.getElementById("count");
  const cards = Array.from(document.querySelectorAll(".card"));
  const sections = Array.from(document.querySelectorAll("section.era"));

  function apply() {
    const words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const card of cards) {
      const d = card.dataset;
      const ok = words.every((w) => d.search.includes(w))
        && (!tier.value || d.tiers.split(" ").includes(tier.value))
        && (!era.value || d.era === era.value)
        && (!impl.checked || d.impl === "yes");
      card.hidden = !ok;
      if (ok) shown += 1;
    }
    for (const s of sections) s.hidden = !s.querySelector(".card:not([hidden])");
    count.textContent = `${shown} of ${cards.length} shown`;
    document.getElementById("empty").hidden = shown > 0;
  }

  const boxes = Array.from(document.querySelectorAll(".pick-box"));
  const link = document.getElementById("bib-link"), selected = document.getElementById("selected");
  function selection() {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    link.href = "/bib?ids=" + ids.map(encodeURIComponent).join(",");
    link.classList.toggle("disabled", ids.length === 0);
    link.setAttribute("aria-disabled", String(ids.length === 0));
    selected.textContent = ids.length ? `${ids.length} selected` : "none selected";
  }

  form.addEventListener("input", apply);
  form.addEventListener("submit", (ev) => ev.preventDefault());
  for (const b of boxes) b.addEventListener("change", selection);
  document.getElementById("select-shown").addEventListener("click", () => {
    for (const b of boxes) if (!b.closest(".card").hidden) b.checked = true;
    selection();
  });
  document.getElementById("select-none").addEventListener("click", () => {
    for (const b of boxes) b.checked = false;
    selection();
  });
  const given = new URLSearchParams(location.search).get("q");
  if (given) q.value = given;
  apply();
  selection();
}

function runControl() {
  const box = document.getElementById("run-control");
  if (!box) return;
  const paper = box.dataset.paper;
  const buttons = Array.from(box.querySelectorAll(".run-button"));
  const log = document.getElementById("run-log"), status = document.getElementById("run-status");

  function say(text, cls) {
    status.textContent = text;
    status.className = "run-status" + (cls ? " " + cls : "");
  }

  function follow(preset) {
    buttons.forEach((b) => { b.disabled = true; });
    log.hidden = false;
    log.textContent = "";
    say(`running ${paper} (${preset}) ...`);
    const source = new EventSource("/api/run/stream");
    source.onmessage = (ev) => {
      log.textContent += ev.data + "\n";
      log.scrollTop = log.scrollHeight;
    };
    source.addEventListener("done", (ev) => {
      source.close();
      const info = JSON.parse(ev.data);
      const ok = info.exit_code === 0;
      const what = info.run_id ? `run ${info.run_id} finished` : "the run did not start";
      say(`${what}, exit code ${info.exit_code}` + (ok ? "" : " (see the log)"), ok ? "ok" : "bad");
      box.dataset.lastRun = info.run_id ?? "";
      buttons.forEach((b) => { b.disabled = false; });
      reloadResults();
    });
    source.addEventListener("idle", () => { source.close(); });
    source.onerror = () => {
      source.close();
      say("lost the connection to the guide", "bad");
      buttons.forEach((b) => { b.disabled = false; });
    };
  }

  async function reloadResults() {
    const target = document.getElementById("results");
    const res = await fetch(target.dataset.src, { headers: { Accept: "text/html" } });
    if (res.ok) {
      target.innerHTML = await res.text();   // our own server-rendered, escaped fragment
      box.dataset.reloaded = String(Number(box.dataset.reloaded || 0) + 1);
    }
  }

  for (const b of buttons) {
    b.addEventListener("click", async () => {
      const preset = b.dataset.preset;
      const res = await fetch(`/api/run/${encodeURIComponent(paper)}?preset=${preset}`, { method: "POST" });
      if (res.status === 202) {
        follow(preset);
      } else {
        const body = await res.json().catch(() => ({}));
        say(body.detail || `could not start the run (HTTP ${res.status})`, "bad");
      }
    });
  }

  // A run of this paper already in progress (the page was reloaded): show it.
  fetch("/api/run/status").then((r) => r.json()).then((s) => {
    if (s.running && s.paper === paper) follow(s.preset);
  }).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  timeline();
  runControl();
});
