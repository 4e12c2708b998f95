// The metrics explorer: the tree of pushed series, a query box, and a uPlot chart of what the
// query matches that moves without a reload. Pushed values are not in the event stream, so
// the chart asks for its newest steps every few seconds (only while the tab is visible)
// and redraws them in place; the query and range live in the URL.
import { lonePoints, timeAxis } from "./chart-kit.js";
import { api, color, el, island } from "./lib.js";

const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 7 * 86400,
                 "30d": 30 * 86400 };
const PALETTE = 8; // --series-1 .. --series-8 in explore.css
const POINTS_SHOWN = 120; // a series with fewer values shows its points too
const TREE_SECONDS = 30; // how often the tree's counts and names are read again

const setup = island("explore-data");
const form = document.getElementById("query-form");
const input = document.getElementById("q");
const rangeBox = document.getElementById("range");
const errorBox = document.getElementById("q-error");
const box = document.getElementById("chart");
const status = document.getElementById("chart-status");
const tree = document.getElementById("tree");

// -- the chart ------------------------------------------------------------------------------

class Chart {
  constructor() {
    this.q = "";
    this.range = setup.range;
    this.step = null;
    this.from = null;
    this.series = []; // {key, label, points: Map(step start -> value)}
    this.plot = null;
    this.ticket = 0;
    this.timer = null;
    this.polling = false;
    new ResizeObserver(() => this.resize()).observe(box);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.poll(); });
  }

  // Ask for the whole range: a new query or range (`quietly`: the same one, grown).
  async load(q, range, quietly = false) {
    const ticket = ++this.ticket;
    this.stop();
    this.q = q;
    this.range = range;
    clearError();
    if (!q) {
      this.clear("Type a query, or pick a series in the tree.");
      return;
    }
    if (!quietly) status.textContent = "Loading…";
    let data;
    try {
      ({ data } = await api(`/metrics/query?${params(q, range)}`));
    } catch (error) {
      if (ticket !== this.ticket) return;
      showError(error);
      this.clear("");
      return;
    }
    if (ticket !== this.ticket) return;
    this.step = data.step;
    this.from = data.from;
    this.series = data.series.map((s) => ({ key: key(s), label: label(s),
                                           points: new Map(s.points) }));
    this.draw();
    this.timer = setInterval(() => this.poll(), setup.poll * 1000);
  }

  // The newest steps, as they are now (the last one is still filling): merged in place.
  async poll() {
    if (!this.step || this.polling || document.hidden) return;
    const ticket = this.ticket;
    this.polling = true;
    try {
      const { data } = await api(`/metrics/query?${params(this.q, `${2 * this.step}s`,
                                                            `${this.step}s`)}`);
      if (ticket === this.ticket) this.merge(data);
    } catch (error) {
      if (ticket === this.ticket) status.textContent = `Not updated: ${error.message}`;
    } finally {
      this.polling = false;
    }
  }

  merge(data) {
    const known = new Map(this.series.map((s) => [s.key, s]));
    if (data.series.some((found) => !known.has(key(found)))) {
      this.load(this.q, this.range, true); // a series new to the query: with its history
      refreshTree(); // and in the tree
      return;
    }
    for (const s of this.series) for (const at of s.points.keys()) if (at >= data.from) s.points.delete(at);
    for (const found of data.series) {
      const s = known.get(key(found));
      for (const [at, value] of found.points) s.points.set(at, value);
    }
    // The range slides: steps older than its start go.
    this.from = Math.floor((Date.now() / 1000 - RANGES[this.range]) / this.step) * this.step;
    for (const s of this.series) for (const at of s.points.keys()) if (at < this.from) s.points.delete(at);
    if (!this.plot) this.draw();
    else {
      this.plot.setData(this.columns());
      this.mark();
    }
  }

  // One x per step from the range's start to now, a column per series (null: no value).
  columns() {
    const x = [];
    const last = Math.floor(Date.now() / 1000 / this.step) * this.step;
    for (const s of this.series) for (const at of s.points.keys()) if (at > last) x.push(at);
    for (let at = this.from; at <= last; at += this.step) x.push(at);
    x.sort((a, b) => a - b);
    return [x, ...this.series.map((s) => x.map((at) => s.points.get(at) ?? null))];
  }

  draw() {
    this.plot?.destroy();
    this.plot = null;
    window.exploreChart = null;
    if (!this.series.length || typeof uPlot === "undefined") {
      // Still asked every few seconds: a series pushed from now on shows up.
      box.dataset.values = "0";
      if (this.step) status.textContent = `No series matches ${this.q} yet.`;
      return;
    }
    const axis = { stroke: color("--muted"), grid: { stroke: color("--chart-grid"), width: 1 },
                   ticks: { stroke: color("--chart-grid"), width: 1 } };
    const number = (u, v) => (v === null || v === undefined ? "–" : format(v));
    const series = this.series.map((s, i) => ({
      label: s.label, stroke: color(`--series-${(i % PALETTE) + 1}`), width: 1.5,
      spanGaps: true, value: number,
      points: { show: () => s.points.size < POINTS_SHOWN, filter: lonePoints, size: 5,
                fill: color("--panel") },
    }));
    this.plot = new uPlot({
      width: Math.max(box.clientWidth, 200), height: height(),
      scales: { x: { time: true } },
      axes: [timeAxis(axis), { ...axis, size: 60, values: (u, splits) => splits.map(format) }],
      series: [{ label: "Time", value: (u, t) => (t ? new Date(t * 1000).toLocaleString() : "–") },
               ...series],
    }, this.columns(), box);
    window.exploreChart = this.plot; // for tests: its data is what is drawn
    this.mark();
  }

  // What is drawn: the values it holds (tests wait on it) and when, for the reader.
  mark() {
    const values = this.series.reduce((sum, s) => sum + s.points.size, 0);
    box.dataset.values = String(values);
    status.textContent = `${this.series.length} series · a point every ${duration(this.step)}`
      + ` · updated ${new Date().toLocaleTimeString()}`;
  }

  clear(text) {
    this.plot?.destroy();
    this.plot = null;
    this.series = [];
    this.step = null;
    window.exploreChart = null;
    box.dataset.values = "0";
    status.textContent = text;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  resize() {
    if (this.plot && box.clientWidth && box.clientWidth !== this.plot.width) {
      this.plot.setSize({ width: box.clientWidth, height: height() });
    }
  }
}

function params(q, range, step) {
  const out = new URLSearchParams({ q, range });
  if (step) out.set("step", step);
  return out.toString();
}

const key = (s) => `${s.term}\u0000${s.path}\u0000${s.merged}`;
const label = (s) => `${s.path}|${s.function}${s.merged ? "|all" : ""}`;
const height = () => (matchMedia("(max-width: 640px)").matches ? 220 : 320);

function format(v) {
  const size = Math.abs(v);
  if (size >= 1e6 || (size < 1e-3 && size > 0)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}

function duration(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// -- errors of the query, under the box -----------------------------------------------------

function showError(error) {
  const problem = error.problem || {};
  errorBox.replaceChildren(problem.detail || error.message);
  const at = problem.position;
  if (problem.parameter === "q" && Number.isInteger(at) && at >= 0 && at <= input.value.length) {
    const text = input.value;
    errorBox.append(el("br"), el("code", { class: "at" }, text.slice(0, at),
                                 el("mark", { text: text.slice(at, at + 1) || " " }),
                                 text.slice(at + 1)));
  }
  input.setAttribute("aria-invalid", "true");
}

function clearError() {
  errorBox.replaceChildren();
  input.removeAttribute("aria-invalid");
}

// -- the tree -------------------------------------------------------------------------------

// The query a node puts in the box: the series itself, or everything below a branch.
const queryOf = (node) => (node.leaf ? node.path : `${node.path}.**`);

function href(q) {
  return `/explore?${new URLSearchParams({ q, range: rangeBox.value })}`;
}

function branch(nodes, truncated) {
  const list = el("ul");
  for (const node of nodes) list.append(item(node));
  if (truncated) list.append(el("li", { class: "muted small", text: "… more not shown" }));
  return list;
}

// What an item's elements depend on beside its count: a series or not, a branch or not.
const shape = (node) => `${node.leaf ? "leaf" : ""}${node.series > (node.leaf ? 1 : 0) ? "+" : ""}`;

function item(node) {
  const q = queryOf(node);
  const link = el("a", { href: href(q), "data-q": q, title: q }, node.name);
  const count = el("span", { class: "count", "aria-label": `${node.series} series` },
                   String(node.series));
  const row = el("div", { class: "node" });
  const li = el("li", { "data-path": node.path, "data-shape": shape(node) }, row);
  if (node.series > (node.leaf ? 1 : 0)) {
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false",
                                  "aria-label": `Open ${node.path}`, "data-path": node.path },
                      "▸");
    row.append(toggle);
  } else {
    row.append(el("span", { class: "toggle-space" }));
  }
  row.append(link, count);
  return li;
}

async function toggle(button) {
  const li = button.closest("li");
  const open = button.getAttribute("aria-expanded") === "true";
  const below = li.querySelector(":scope > ul");
  if (open) {
    button.setAttribute("aria-expanded", "false");
    below?.classList.add("hidden");
    return;
  }
  button.setAttribute("aria-expanded", "true");
  if (below) {
    below.classList.remove("hidden");
    return;
  }
  try {
    const { data } = await api(`/metrics/tree?${new URLSearchParams({ prefix: button.dataset.path })}`);
    li.append(branch(data.children, data.truncated));
  } catch (error) {
    li.append(el("p", { class: "error small", role: "alert", text: error.message }));
  }
}

// The tree as it is now, in place: counts, names new and gone; what is open stays open and
// is read again, a closed branch forgets its names (read when opened); focus stays.
let refreshing = false;

async function refreshTree() {
  if (refreshing || document.hidden) return;
  refreshing = true;
  try {
    const { data } = await api("/metrics/tree");
    await reconcile(tree, data.children);
    document.getElementById("tree-empty").classList.toggle("hidden", data.children.length > 0);
    document.getElementById("tree-more").classList.toggle("hidden", !data.truncated);
    markCurrent(input.value.trim());
  } catch {
    // As it was: read again at the next refresh.
  } finally {
    refreshing = false;
  }
}

async function reconcile(list, nodes) {
  const wanted = new Set(nodes.map((node) => node.path));
  const old = new Map();
  for (const li of list.querySelectorAll(":scope > li[data-path]")) {
    if (wanted.has(li.dataset.path)) old.set(li.dataset.path, li);
    else li.remove(); // its series are gone (deleted by retention)
  }
  const open = [];
  let cursor = list.firstElementChild;
  for (const node of nodes) {
    let li = old.get(node.path);
    if (li && li.dataset.shape !== shape(node)) {
      const fresh = item(node); // a leaf that became a branch too, or the reverse
      li.replaceWith(fresh);
      if (li === cursor) cursor = fresh;
      li = fresh;
    } else if (li) {
      const count = li.querySelector(":scope > .node > .count");
      count.textContent = String(node.series);
      count.setAttribute("aria-label", `${node.series} series`);
      const below = li.querySelector(":scope > ul");
      if (below?.classList.contains("hidden")) below.remove();
      else if (below) open.push([below, node.path]);
    } else {
      li = item(node);
    }
    // The names kept are in order already (never moved: focus stays); a new one goes in.
    if (li === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(li, cursor);
  }
  await Promise.all(open.map(async ([below, path]) => {
    const { data } = await api(`/metrics/tree?${new URLSearchParams({ prefix: path })}`);
    await reconcile(below, data.children);
  }));
}

// Arrow keys move between the visible names; right opens a branch, left closes it (or goes
// to the parent).
function onKey(event) {
  const link = event.target.closest("a");
  if (!link || event.altKey || event.ctrlKey || event.metaKey) return;
  const links = [...tree.querySelectorAll("a")].filter((a) => a.offsetParent !== null);
  const here = links.indexOf(link);
  const button = link.parentElement.querySelector(".toggle");
  const open = button?.getAttribute("aria-expanded") === "true";
  let target = null;
  if (event.key === "ArrowDown") target = links[here + 1];
  else if (event.key === "ArrowUp") target = links[here - 1];
  else if (event.key === "ArrowRight" && button && !open) toggle(button);
  else if (event.key === "ArrowRight" && open) target = links[here + 1];
  else if (event.key === "ArrowLeft" && open) toggle(button);
  else if (event.key === "ArrowLeft") target = link.closest("ul").closest("li")?.querySelector("a");
  else return;
  event.preventDefault();
  target?.focus();
}

function markCurrent(q) {
  for (const a of tree.querySelectorAll("a")) {
    if (a.dataset.q === q) a.setAttribute("aria-current", "true");
    else a.removeAttribute("aria-current");
  }
}

// -- the page -------------------------------------------------------------------------------

const chart = new Chart();

function show(push) {
  const q = input.value.trim();
  const range = rangeBox.value;
  const url = q ? `/explore?${new URLSearchParams({ q, range })}` : `/explore?range=${range}`;
  if (url !== location.pathname + location.search) {
    history[push ? "pushState" : "replaceState"]({}, "", url);
  }
  for (const a of tree.querySelectorAll("a")) a.href = href(a.dataset.q);
  markCurrent(q);
  chart.load(q, range);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  show(true);
});
rangeBox.addEventListener("change", () => show(true));
tree.addEventListener("click", (event) => {
  const button = event.target.closest(".toggle");
  if (button) {
    toggle(button);
    return;
  }
  const link = event.target.closest("a");
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  input.value = link.dataset.q;
  show(true);
});
tree.addEventListener("keydown", onKey);
window.addEventListener("popstate", () => {
  const asked = new URLSearchParams(location.search);
  input.value = asked.get("q") || "";
  rangeBox.value = RANGES[asked.get("range")] ? asked.get("range") : setup.range;
  show(false);
});

const roots = branch(setup.tree, false);
tree.append(...roots.children);
document.getElementById("tree-empty").classList.toggle("hidden", setup.tree.length > 0);
document.getElementById("tree-more").classList.toggle("hidden", !setup.truncated);
setInterval(refreshTree, TREE_SECONDS * 1000); // series pushed beyond the query's
// uPlot's script is deferred, this module too: both have run by now, in order.
show(false);
