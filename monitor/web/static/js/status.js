// A status page keeps itself current: every `data-refresh` seconds it asks for its
// document (/status/SLUG.json) with the ETag it has; a 304 only moves "last updated", a new
// document redraws what changed. A document whose frame changed (a group, a name, the
// title) reloads the page. Arrow keys on a strip of bars say each day's uptime.

import { el, uptimeClass } from "./lib.js";

const root = document.getElementById("status");
const every = Number(root.dataset.refresh) * 1000;
let etag = `"${root.dataset.etag}"`; // as the ETag header quotes it
let timer = null;
let due = 0;

// In the visitor's zone, named: customers are everywhere.
const when = (iso) => new Date(iso).toLocaleString(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  timeZoneName: "short" });

// As the server says it (share_text): the share is rounded down already.
const shareText = (ratio) => (ratio === null ? "No data" : `${(ratio * 100).toFixed(2)}%`);

function localTimes(root) {
  for (const node of root.querySelectorAll("time[datetime]")) node.textContent = when(node.dateTime);
}

function time(iso) {
  return el("time", { datetime: iso, text: when(iso) });
}

function drawBars(strip, from, daily) {
  const first = Date.parse(from);
  const spans = daily.map((ratio, index) => {
    const day = new Date(first + index * 86400000).toISOString().slice(0, 10);
    return el("span", { class: uptimeClass(ratio), title: `${day}: ${shareText(ratio)}` });
  });
  strip.replaceChildren(...spans);
}

function drawList(section, list, items, line) {
  section.classList.toggle("hidden", items.length === 0);
  list.replaceChildren(...items.map(line));
}

function draw(doc) {
  const overall = document.getElementById("overall");
  overall.className = `overall overall-${doc.overall.state}`;
  overall.textContent = doc.overall.said;
  for (const node of root.querySelectorAll(".monitor")) {
    const item = doc.groups[Number(node.dataset.group)].monitors[Number(node.dataset.index)];
    const state = node.querySelector(".js-state");
    state.className = `state state-${item.state} js-state`;
    state.textContent = item.said;
    node.querySelector(".js-uptime").textContent = item.uptimeText;
    const strip = node.querySelector(".bars");
    const selected = selectedIndex(strip);
    drawBars(strip, doc.from, item.daily);
    if (selected >= 0) select(strip, selected);
  }
  drawList(document.getElementById("incidents"), document.getElementById("incident-list"),
    doc.incidents, (incident) => el("li", {}, el("strong", { text: incident.name }), " ",
      el("span", { class: `state state-${incident.state === "down" ? "down" : "warning"}`,
                   text: incident.said }), " ",
      el("span", { class: "muted" }, "since ", time(incident.since))));
  drawList(document.getElementById("maintenance"), document.getElementById("maintenance-list"),
    doc.maintenance, (stretch) => el("li", {},
      el("span", { class: "state state-maintenance", text: stretch.now ? "Now" : "Scheduled" }),
      " ", el("strong", { text: stretch.names.join(", ") }), " ",
      el("span", { class: "muted" }, "from ", time(stretch.since),
        ...(stretch.until ? [" to ", time(stretch.until)] : [" until further notice"]))));
}

function stamp(iso, reachable) {
  const node = document.getElementById("updated");
  if (iso) {
    node.dateTime = iso;
    node.textContent = when(iso);
  }
  document.getElementById("offline").classList.toggle("hidden", reachable);
}

// One refresh now: the page's script calls it on its timer; tests may call it too.
export async function refresh() {
  clearTimeout(timer);
  try {
    const answer = await fetch(root.dataset.src, { cache: "no-store", credentials: "omit",
                                                   headers: { "If-None-Match": etag } });
    if (answer.status === 200) {
      const doc = await answer.json();
      if (doc.layout !== root.dataset.layout) {
        location.reload();
        return;
      }
      etag = answer.headers.get("ETag") || "";
      draw(doc);
      stamp(doc.updated, true);
    } else {
      stamp(answer.status === 304 ? new Date().toISOString() : null, answer.status === 304);
    }
  } catch {
    stamp(null, false);
  }
  schedule();
}

// Spread over ±10% so that many open pages do not ask at the same instant; a hidden tab
// waits until it is shown again.
function schedule() {
  due = Date.now() + every * (0.9 + Math.random() * 0.2);
  timer = setTimeout(() => (document.hidden ? null : refresh()), due - Date.now());
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && Date.now() >= due) refresh();
});

// The bars a keyboard moves over: those shown (a phone shows the last 30 days).
function shown(strip) {
  return [...strip.children].filter((span) => span.offsetWidth > 0);
}

function select(strip, index) {
  for (const span of strip.querySelectorAll(".sel")) span.classList.remove("sel");
  const span = strip.children[Math.max(0, Math.min(index, strip.children.length - 1))];
  span.classList.add("sel");
  strip.parentElement.querySelector(".bar-tip").textContent = span.title;
}

function selectedIndex(strip) {
  return [...strip.children].findIndex((span) => span.classList.contains("sel"));
}

const STEPS = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };

for (const strip of root.querySelectorAll(".bars")) {
  const tip = strip.parentElement.querySelector(".bar-tip");
  strip.addEventListener("focus", () => select(strip, strip.children.length - 1));
  strip.addEventListener("blur", () => {
    for (const span of strip.querySelectorAll(".sel")) span.classList.remove("sel");
    tip.textContent = "";
  });
  strip.addEventListener("keydown", (event) => {
    if (!(event.key in STEPS)) return;
    event.preventDefault();
    const spans = shown(strip);
    const at = spans.findIndex((span) => span.classList.contains("sel"));
    const next = Math.max(0, Math.min(at + STEPS[event.key], spans.length - 1));
    select(strip, [...strip.children].indexOf(spans[next]));
  });
  strip.addEventListener("mouseover", (event) => {
    if (event.target.parentElement === strip) tip.textContent = event.target.title;
  });
}

localTimes(document);
root.refreshStatus = refresh;
schedule();
