"""The page's stylesheet and script, served from ``/static/`` (kept in Python so that a
plain ``pip install`` carries them; no package data, no CDN)."""

from __future__ import annotations

CSS = """\
:root { --ink: #1d2733; --muted: #5b6675; --line: #d5dbe3; --bg: #f5f7fa; --card: #fff;
  --watch: #9a6a00; --watch-bg: #fff4d6; --elevated: #b7410e; --elevated-bg: #ffe8dc;
  --high: #b00020; --high-bg: #ffe0e5; --ok: #1f7a3a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 18px; margin: 22px 0 8px; }
.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: 8px; border-bottom: 1px solid var(--line); padding-bottom: 10px; }
.who { display: flex; gap: 14px; align-items: center; color: var(--muted); flex-wrap: wrap; }
.who form { margin: 0; }
.live { font-weight: 600; padding: 2px 10px; border-radius: 12px; font-size: 13px; }
.live.on { color: var(--ok); background: #e3f4e8; }
.live.on::before { content: "\\25CF  "; }
.live.off { color: var(--muted); background: #eceff3; }
button.link { background: none; border: 0; color: #1f5fa8; cursor: pointer; font: inherit;
  padding: 0; text-decoration: underline; }
.disclaimer { color: var(--muted); font-size: 13.5px; max-width: 980px; margin: 10px 0 0; }
.count { display: inline-block; min-width: 24px; text-align: center; background: var(--ink);
  color: #fff; border-radius: 12px; font-size: 13px; padding: 0 7px; vertical-align: 2px; }
section .empty { color: var(--muted); margin: 4px 0; }
section.has-cards .empty { display: none; }
.legend { color: var(--muted); font-size: 12.5px; margin: 0 0 8px; }
.legend .k { display: inline-block; width: 12px; height: 12px; margin: 0 4px -2px 12px;
  border-radius: 2px; }
.legend .k:first-child { margin-left: 0; }
.k.pt { background: #24527a; border-radius: 6px; }
.k.out { background: #c81e1e; border-radius: 6px; }
.k.band { background: #cfe0f1; }
.k.onset { border-left: 2px dashed #7a5200; width: 0; border-radius: 0; }
.k.alertday { border-left: 2px solid #b7410e; width: 0; border-radius: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 6px solid #8a96a3;
  border-radius: 8px; padding: 12px 16px; margin: 0 0 14px;
  box-shadow: 0 1px 2px rgba(20, 30, 40, .05); }
.card.watch { border-left-color: var(--watch); }
.card.elevated { border-left-color: var(--elevated); }
.card.high { border-left-color: var(--high); }
.card.fresh { outline: 3px solid #6aa7e8; outline-offset: 1px; }
.card.fresh header::after { content: "new"; margin-left: auto; font-size: 12px; font-weight: 700;
  color: #fff; background: #1f5fa8; padding: 1px 8px; border-radius: 10px; }
.card header { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
.card h3 { margin: 0; font-size: 18px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.history { color: var(--muted); font-size: 13.5px; }
.badge { font-weight: 700; font-size: 12.5px; text-transform: uppercase; letter-spacing: .04em;
  padding: 2px 9px; border-radius: 4px; background: #eceff3; }
.badge.watch { color: var(--watch); background: var(--watch-bg); }
.badge.elevated { color: var(--elevated); background: var(--elevated-bg); }
.badge.high { color: var(--high); background: var(--high-bg); }
.explanation { font-size: 16.5px; font-weight: 600; margin: 8px 0; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 26px; margin: 6px 0 10px; }
.facts div { display: flex; gap: 6px; }
.facts dt { color: var(--muted); }
.facts dt::after { content: ":"; }
.facts dd { margin: 0; font-weight: 600; }
table.contrib { border-collapse: collapse; width: 100%; margin: 4px 0 10px; font-size: 14px; }
.contrib th, .contrib td { text-align: left; padding: 4px 10px 4px 0;
  border-bottom: 1px solid var(--line); }
.contrib thead th { color: var(--muted); font-weight: 600; font-size: 12.5px; }
.contrib tbody th { font-weight: 600; }
.contrib .dom { display: inline-block; margin-left: 8px; font-size: 11.5px; color: var(--muted);
  font-weight: 400; border: 1px solid var(--line); border-radius: 3px; padding: 0 4px; }
.contrib td.chg { font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 14px; }
svg.chart { background: #fff; font-size: 10.5px; font-family: inherit; }
svg .ct { font-size: 12px; font-weight: 600; fill: var(--ink); }
svg .ct .unit { font-weight: 400; fill: var(--muted); }
svg .plot { fill: #fbfcfd; stroke: var(--line); }
svg .grid { stroke: #e6eaef; }
svg .yl { fill: var(--muted); text-anchor: end; }
svg .xl, svg .ml { fill: var(--muted); }
svg .band { fill: #cfe0f1; stroke: none; }
svg .median { fill: none; stroke: #5b86b0; stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .line { fill: none; stroke: #24527a; stroke-width: 1.4; }
svg .pt { fill: #24527a; }
svg .out { fill: #c81e1e; }
svg .onset { stroke: #7a5200; stroke-dasharray: 3 3; }
svg .alertday { stroke: #b7410e; stroke-width: 1.5; }
svg .wear { fill: #7fa8cf; }
svg .wearlow { fill: #e0a35a; }
.summary { font-weight: 600; margin: 10px 0 0; }
.muted { color: var(--muted); }
.meta { color: var(--muted); font-size: 13px; margin: 6px 0; }
.ackbar { margin-top: 8px; padding-top: 8px; border-top: 1px solid var(--line); }
.ackbar form { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 0; }
.ackbar button { font: inherit; font-weight: 600; padding: 6px 16px; border-radius: 6px;
  border: 1px solid #1f5fa8; background: #1f5fa8; color: #fff; cursor: pointer; }
.ackbar button:disabled { opacity: .6; cursor: default; }
.ackbar .hint { color: var(--muted); font-size: 12.5px; }
ul.acks { list-style: none; margin: 0 0 6px; padding: 0; color: var(--ok); font-weight: 600; }
ul.acks li::before { content: "\\2713  "; }
.card.resolved { border-left-color: #8a96a3; padding: 8px 16px; }
.card.resolved .explanation { font-size: 14.5px; font-weight: 500; color: var(--muted); }
.card.resolved.unresolved { border-left-color: var(--high); }
.card.resolved.unresolved .meta { color: var(--high); font-weight: 600; }
.login { max-width: 420px; margin: 10vh auto; background: var(--card); padding: 24px;
  border: 1px solid var(--line); border-radius: 8px; }
.login form { display: flex; flex-direction: column; gap: 8px; margin: 16px 0; }
.login input { font: inherit; padding: 8px; border: 1px solid var(--line); border-radius: 6px; }
.login button { font: inherit; padding: 8px; border-radius: 6px; border: 0; background: #1f5fa8;
  color: #fff; font-weight: 600; cursor: pointer; }
.error { color: var(--high); font-weight: 600; }
.top nav { display: flex; gap: 16px; }
.top nav a { color: #1f5fa8; font-weight: 600; text-decoration: none; padding: 2px 0; }
.top nav a[aria-current="page"] { color: var(--ink); border-bottom: 3px solid var(--ink); }
.order { color: var(--muted); font-size: 13px; font-weight: 400; margin-left: 8px; }
form.filters { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; margin: 0 0 8px; }
form.filters select, form.filters button { font: inherit; font-size: 13.5px; padding: 3px 6px; }
.score { color: var(--muted); font-size: 13px; }
.card h3 a { color: inherit; }
.contrib .win { display: block; color: var(--muted); font-size: 12px; font-weight: 400; }
.ackbar label { color: var(--muted); font-size: 13px; display: flex; gap: 4px;
  align-items: center; }
.ackbar select, .ackbar input { font: inherit; font-size: 13.5px; padding: 3px 6px; }
.ackbar .notel input { width: 22em; }
q.note { display: block; color: var(--ink); font-weight: 400; font-style: italic;
  margin-left: 18px; }
table.caseload { border-collapse: collapse; width: 100%; background: var(--card);
  font-size: 14px; }
.caseload th, .caseload td { text-align: left; padding: 5px 8px;
  border-bottom: 1px solid var(--line); vertical-align: top; }
.caseload thead th { background: #eef2f6; font-size: 12.5px; white-space: nowrap; }
.caseload thead th a { color: var(--ink); }
.caseload td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caseload tr.gap td.data { color: var(--high); font-weight: 700; }
.caseload tr.fresh { outline: 3px solid #6aa7e8; }
.caseload .subj { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-weight: 600;
  white-space: nowrap; }
.caseload td { white-space: nowrap; }
.caseload td.data, .caseload td.report { white-space: normal; }
.caseload .win { display: block; color: var(--muted); font-size: 12px; }
.caseload tr.gap, .caseload tr.none { background: #fff7f8; }
.caseload .unresolved { color: var(--high); font-weight: 700; }
.pill { display: inline-block; padding: 0 7px; border-radius: 4px; font-size: 12px;
  font-weight: 700; text-transform: uppercase; }
.pill.gap { color: #fff; background: var(--high); }
.pill.low { color: var(--watch); background: var(--watch-bg); }
.timeline { list-style: none; padding: 0; }
.timeline li { padding: 6px 0; border-bottom: 1px solid var(--line); }
@media print { .ackbar form, .live, .who form { display: none; } .card { break-inside: avoid; } }
"""

JS = """\
"use strict";
(function () {
  var root = document.getElementById("feed");
  if (!root) { return; }
  var live = document.getElementById("live");
  var csrf = root.dataset.csrf;
  var maxResolved = parseInt(root.dataset.resolvedShown || "20", 10);
  function cardsOf(name) { return document.querySelector("#" + name + " .cards"); }
  function localTimes(scope) {
    scope.querySelectorAll("time[datetime]").forEach(function (t) {
      if (t.dataset.local) { return; }
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      t.title = t.getAttribute("datetime");
      t.textContent = d.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
      t.dataset.local = "1";
    });
  }
  function refresh() {
    var resolved = cardsOf("resolved");
    while (resolved && resolved.children.length > maxResolved) {
      resolved.removeChild(resolved.lastElementChild);
    }
    ["open", "resolved"].forEach(function (name) {
      var section = document.getElementById(name);
      if (!section) { return; }
      var n = cardsOf(name).children.length;
      section.classList.toggle("has-cards", n > 0);
      var count = section.querySelector(".count");
      if (count) { count.textContent = String(n); }
    });
    localTimes(document);
  }
  function upsert(msg) {
    if (!cardsOf(msg.section)) { return; }
    var old = document.getElementById(msg.id);
    if (old) { old.parentNode.removeChild(old); }
    if (msg.html) {
      var tpl = document.createElement("template");
      tpl.innerHTML = msg.html;
      var card = tpl.content.firstElementChild;
      if (!old || old.classList.contains("fresh")) { card.classList.add("fresh"); }
      var cards = cardsOf(msg.section);
      var before = null;
      for (var i = 0; i < cards.children.length; i++) {
        if (cards.children[i].dataset.sort < card.dataset.sort) {
          before = cards.children[i];
          break;
        }
      }
      cards.insertBefore(card, before);
    }
    refresh();
  }
  live.textContent = "Connecting\\u2026";
  var query = root.dataset.query ? "&" + root.dataset.query : "";
  var stream = new EventSource(
    root.dataset.stream + "?since=" + encodeURIComponent(root.dataset.seq) + query);
  stream.addEventListener("open", function () {
    live.textContent = "Live";
    live.className = "live on";
  });
  stream.addEventListener("error", function () {
    live.textContent = "Reconnecting\\u2026";
    live.className = "live off";
  });
  stream.addEventListener("card", function (ev) { upsert(JSON.parse(ev.data)); });
  stream.addEventListener("row", function (ev) {
    var msg = JSON.parse(ev.data);
    var body = document.getElementById("caseload");
    if (!body) { return; }
    var tpl = document.createElement("template");
    tpl.innerHTML = "<table><tbody>" + msg.html + "</tbody></table>";
    var row = tpl.content.querySelector("tr");
    row.classList.add("fresh");
    var old = document.getElementById(msg.id);
    if (old) { body.replaceChild(row, old); } else { body.appendChild(row); }
  });
  stream.addEventListener("order", function (ev) {
    var msg = JSON.parse(ev.data);
    var body = document.getElementById("caseload");
    if (!body) { return; }
    var keep = {};
    msg.ids.forEach(function (id) {
      var row = document.getElementById(id);
      if (row) { body.appendChild(row); keep[id] = true; }
    });
    Array.from(body.children).forEach(function (row) {
      if (!keep[row.id]) { body.removeChild(row); }
    });
    var summary = document.getElementById("summary");
    if (summary && msg.summary) { summary.innerHTML = msg.summary; }
  });
  stream.addEventListener("reload", function () { window.location.reload(); });
  stream.addEventListener("signed_out", function () {
    stream.close();
    window.location.assign("/login");
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("ack")) { return; }
    ev.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    button.textContent = "Saving\\u2026";
    var body = new URLSearchParams(new FormData(form));
    body.delete("csrf");
    fetch("/api" + form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Accept": "application/json"},
      body: body
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (body) {
      if (!cardsOf("open")) { window.location.reload(); return; }
      if (body.card) { upsert(body.card); }
    }).catch(function (err) {
      button.disabled = false;
      button.textContent = "Not saved (" + err.message + "): try again";
    });
  });
  refresh();
}());
"""
