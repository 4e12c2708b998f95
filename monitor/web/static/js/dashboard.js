// The dashboard: every monitor worst first, searchable, grouped by state, kind or tag.
// Thousands of rows: only those in view are in the document (a spacer row above and below
// stands for the others), and the checks of the event stream are applied to the monitors
// as they come but drawn once per animation frame, touching only the rows they changed.
// A monitor checked from several locations shows each one's state as a chip: read for the
// rows in view (GET /api/v1/monitors?locations=several&id=...) once drawn, and again as
// their checks come (a server without the running monitor's rules replays them on the
// database's rows for each monitor asked about: the rows in view only). Such a monitor's
// own state is the rules' verdict on its locations (down from a quorum of them, else a
// warning): a check, from one location, does not set it; those reads do.
import { ago, api, events, figure, island, ms, percent, uptimeClass } from "./lib.js";

const COLUMNS = ["id", "name", "target", "kind", "tags", "state", "windows", "response", "value",
                 "spark", "sparkAge", "sparkCount", "failAge", "failure"];
const STATE_NAMES = ["down", "warning", "unknown", "maintenance", "paused", "up"];
const SHORT = { maintenance: "maint." }; // a state's name too long for a phone's column

// Every monitor in columns, asked for by the page's head already (a preload of this URL,
// with the same mode: fetched once).
async function read() {
  let answer = null;
  let body = null;
  try {
    answer = await fetch("/api/v1/dashboard", { credentials: "same-origin" });
    body = await answer.json();
  } catch {
    // Said below: no answer, or not JSON.
  }
  if (answer?.ok && body) return body;
  const failed = document.getElementById("failed");
  failed.textContent = `The monitors cannot be read: ${body?.detail || answer?.statusText
    || "no answer from the server"} (reload the page to try again).`;
  failed.classList.remove("hidden");
  const none = Object.fromEntries(COLUMNS.map((name) => [name, []]));
  return { ...none, at: Date.now() / 1000, position: null, states: STATE_NAMES, kinds: [],
           tagNames: [] };
}

const data = await read();
const STATES = data.states; // worst first
const RANK = Object.fromEntries(STATES.map((state, i) => [state, i]));
const SPARK_POINTS = 20;
const OVERSCAN = 12; // rows drawn beyond each edge of the viewport
let columns = 7; // shown (a narrow screen hides some): a cell spanning more adds columns
const readAt = data.at * 1000;
const readMinute = Math.floor(data.at / 60) * 60;

// Names in their natural order ("site 9" before "site 10"): numbers padded, case ignored.
function sortKey(label) {
  return label.toLowerCase().replace(/\d+/g, (digits) => digits.padStart(12, "0"));
}

// One object per monitor, from the columns.
const monitors = data.id.map((id, i) => {
  const name = data.name[i];
  const target = data.target[i] ?? id;
  return {
    id, name, target, label: name || target, key: sortKey(name || target),
    kind: data.kinds[data.kind[i]], tags: data.tags[i].map((t) => data.tagNames[t]),
    state: data.state[i], windows: data.windows[i], response: data.response[i],
    value: data.value[i], watched: data.watchedKinds.includes(data.kinds[data.kind[i]]),
    sparkText: data.spark[i], spark: null, // parsed when first drawn or changed
    sparkMinute: data.sparkAge[i] === null ? null : readMinute - data.sparkAge[i] * 60,
    sparkCount: data.sparkCount[i],
    failAt: data.failAge[i] === null ? null : readAt - data.failAge[i] * 1000,
    failure: data.failure[i], hay: null, version: 0,
    locations: null, // of several locations: [{location, state, ...}] once read
  };
});
const byId = new Map(monitors.map((m) => [m.id, m]));
const added = new Set(); // monitors checked that the page does not list
const counts = STATES.map(() => 0);
for (const m of monitors) counts[m.state] += 1;

const byRank = (a, b) => a.state - b.state || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  || (a.id < b.id ? -1 : 1);
const order = monitors.slice().sort(byRank);

const tbody = document.getElementById("rows");
const table = document.getElementById("monitors");
const search = document.getElementById("search");
const group = document.getElementById("group");
const topPad = spacer();
const bottomPad = spacer();
tbody.append(topPad, bottomPad);

let view = []; // what the table lists: monitors and group headers, in order
let viewTags = null; // grouped by tag: each listed row's tag
let groupedBy = "";
let rowHeight = 0;
const nodes = new Map(); // a row's key -> its <tr>, kept while it may be drawn again
let frame = 0;
let drawn = [0, 0]; // the indexes of `view` drawn last
// What a benchmark or a test reads: the checks applied, and when the rows were first drawn.
const stats = (window.dashboardStats = { checks: 0, readyAt: null });
let sorted = true;
let viewStale = true;

function spacer() {
  const tr = document.createElement("tr");
  tr.className = "pad";
  tr.setAttribute("aria-hidden", "true");
  const td = document.createElement("td");
  tr.append(td);
  return tr;
}

// -- what is listed -------------------------------------------------------------------

function matches(m, words) {
  if (m.hay === null) m.hay = [m.name, m.id, m.target, ...m.tags].join("\n").toLowerCase();
  return words.every((word) => m.hay.includes(word));
}

function buildView() {
  if (!sorted) {
    order.sort(byRank); // nearly sorted already: a few comparisons per monitor
    sorted = true;
  }
  const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const found = words.length ? order.filter((m) => matches(m, words)) : order;
  groupedBy = group.value;
  viewTags = null;
  if (!groupedBy) {
    view = found;
  } else {
    const groups = new Map();
    const add = (name, m) => {
      let g = groups.get(name);
      if (!g) groups.set(name, (g = { group: true, name, monitors: [], worst: STATES.length,
                                     down: 0 }));
      g.monitors.push(m);
      g.worst = Math.min(g.worst, m.state);
      if (m.state === RANK.down) g.down += 1;
    };
    for (const m of found) {
      if (groupedBy === "state") add(STATES[m.state], m);
      else if (groupedBy === "kind") add(m.kind, m);
      else if (!m.tags.length) add("", m);
      else for (const tag of m.tags) add(tag, m);
    }
    // Groups worst first too, then by name; untagged monitors last.
    const list = [...groups.values()].sort((a, b) => (a.name === "") - (b.name === "")
      || a.worst - b.worst || (a.name < b.name ? -1 : 1));
    view = [];
    // A monitor of several tags is listed under each: its rows are told apart by the tag.
    if (groupedBy === "tag") viewTags = [];
    for (const g of list) {
      view.push(g);
      viewTags?.push(g.name);
      for (const m of g.monitors) {
        view.push(m);
        viewTags?.push(g.name);
      }
    }
  }
  viewStale = false;
  table.setAttribute("aria-rowcount", String(view.length + 1));
  const shown = found.length === monitors.length ? ""
    : `${found.length.toLocaleString("en")} of ${monitors.length.toLocaleString("en")} shown`;
  document.getElementById("shown").textContent = shown;
  document.getElementById("empty").classList.toggle("hidden", found.length > 0);
}

// -- drawing --------------------------------------------------------------------------

function draw() {
  frame = 0;
  if (viewStale) buildView();
  if (!rowHeight && view.length) measure();
  const top = tbody.getBoundingClientRect().top;
  const height = rowHeight || 40;
  const to = Math.min(view.length, Math.ceil((window.innerHeight - top) / height) + OVERSCAN);
  const first = Math.min(to, Math.max(0, Math.floor(-top / height) - OVERSCAN));
  topPad.style.height = `${first * height}px`;
  bottomPad.style.height = `${(view.length - to) * height}px`;
  place(first, to);
  drawn = [first, to];
  drawSummary();
  if (locatedInView().some((m) => !located.asked.has(m.id))) locationsSoon(SCROLLED);
}

// The height of a row as the stylesheet makes it (every row has the same).
function measure() {
  const shown = [...table.tHead.rows[0].cells].filter((th) => th.offsetWidth > 0).length;
  if (shown !== columns) {
    columns = shown;
    for (const tr of nodes.values()) tr.version = -1; // group rows span them all
  }
  topPad.firstChild.colSpan = bottomPad.firstChild.colSpan = columns;
  const probe = rowFor(0);
  tbody.insertBefore(probe, bottomPad);
  rowHeight = probe.getBoundingClientRect().height || 40;
}

// Put the rows of `items` between the spacers, moving none that stays (a focused link
// keeps its focus), and forget the rows far out of view.
function place(first, to) {
  const focused = document.activeElement;
  const wanted = new Set();
  const rows = [];
  for (let i = first; i < to; i++) {
    const tr = rowFor(i);
    wanted.add(tr);
    rows.push(tr);
  }
  for (let tr = topPad.nextSibling; tr !== bottomPad;) {
    const next = tr.nextSibling;
    if (!wanted.has(tr)) tr.remove();
    tr = next;
  }
  let cursor = topPad.nextSibling;
  for (const tr of rows) {
    if (cursor === tr) cursor = cursor.nextSibling;
    else tbody.insertBefore(tr, cursor);
  }
  if (focused && focused !== document.activeElement && focused.isConnected) {
    focused.focus({ preventScroll: true });
  }
  if (nodes.size > 4 * rows.length + 200) {
    for (const [key, tr] of nodes) if (!tr.isConnected) nodes.delete(key);
  }
}

function rowFor(index) {
  const item = view[index];
  const key = item.group ? `\n${groupedBy}\n${item.name}`
    : viewTags ? `${viewTags[index]}\n${item.id}` : item.id;
  let tr = nodes.get(key);
  if (!tr) {
    tr = document.createElement("tr");
    tr.version = -1;
    nodes.set(key, tr);
  }
  tr.setAttribute("aria-rowindex", String(index + 2));
  if (item.group) {
    const version = `${item.monitors.length}/${item.down}`;
    if (tr.version !== version) fillGroup(tr, item, version);
  } else if (tr.version !== item.version) {
    fillMonitor(tr, item);
  }
  return tr;
}

function fillGroup(tr, g, version) {
  tr.version = version;
  tr.className = "group";
  const th = document.createElement("th");
  th.colSpan = columns;
  th.scope = "rowgroup";
  const name = g.name || (groupedBy === "tag" ? "no tag" : "–");
  const n = g.monitors.length;
  th.append(text("span", "group-name", name),
            text("span", "muted", ` · ${n} monitor${n === 1 ? "" : "s"}`
              + `${g.down ? ` · ${g.down} down` : ""}`));
  tr.replaceChildren(th);
}

function text(tag, className, value) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = value;
  return node;
}

function cell(className, ...children) {
  const td = document.createElement("td");
  td.className = className;
  td.append(...children);
  return td;
}

export function monitorUrl(id) {
  // As the server's monitor_url(): the id keeps its / : @, everything else is escaped.
  return `/monitors/${encodeURIComponent(id).replace(/%2F/gi, "/").replace(/%3A/gi, ":")
    .replace(/%40/gi, "@").replace(/[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function fillMonitor(tr, m) {
  tr.version = m.version;
  const state = STATES[m.state];
  tr.className = `mon s-${state}`;
  const link = text("a", "name", m.label);
  link.href = monitorUrl(m.id);
  const name = cell("c-name", link);
  if (m.name || m.tags.length || m.locations) {
    const line = text("span", "target muted", "");
    // Its locations first: what a glance at a row of several is for.
    if (m.locations) line.append(chips(m.locations), " ");
    if (m.name) line.append(m.target);
    for (const tag of m.tags) line.append(" ", text("span", "tag", tag));
    name.append(line);
  }
  const pill = text("span", `state state-${state}`, "");
  pill.append(text("span", "word", state));
  if (SHORT[state]) pill.dataset.short = SHORT[state]; // shown instead on a phone
  const cells = [cell("c-state", pill), name];
  for (let k = 0; k < m.windows.length; k += 2) {
    const checks = m.windows[k];
    const ratio = checks ? m.windows[k + 1] / checks : null;
    const td = cell(`c-up num ${uptimeClass(ratio)}${k ? " hide-narrow" : ""}`,
                    percent(ratio));
    if (checks) td.title = `${m.windows[k + 1]} of ${checks} checks up`;
    cells.push(td);
  }
  // A watched kind (a log, a metric, a push) shows its value, not a response time.
  const rt = cell("c-rt", text("span", "rt num", m.watched ? figure(m.value) : ms(m.response)));
  if (!m.watched) rt.insertAdjacentHTML("beforeend", sparkline(m));
  cells.push(rt);
  if (m.failAt === null) {
    cells.push(cell("c-fail hide-narrow muted", "never"));
  } else {
    const when = new Date(m.failAt);
    const td = cell("c-fail hide-narrow", text("span", "when", ago(when.toISOString())),
                    text("span", "why", m.failure ? ` ${m.failure}` : ""));
    td.title = `${when.toISOString()}${m.failure ? `: ${m.failure}` : ""}`;
    cells.push(td);
  }
  tr.replaceChildren(...cells);
}

// One chip per location, coloured by its state; its name, and for a screen reader (and a
// tooltip) its state and availability.
function chips(locations) {
  const box = text("span", "locs", "");
  box.title = locations.map((l) => `${l.location}: ${l.state}`
    + (l.availability === null ? "" : `, ${percent(l.availability)}`)).join("; ");
  for (const l of locations) {
    const chip = text("span", `loc loc-${l.state}`, l.location);
    chip.append(text("span", "visually-hidden", ` ${l.state}`));
    box.append(chip);
  }
  return box;
}

// An SVG path of the last minutes' response times (numbers only: nothing to escape).
function sparkline(m) {
  const values = sparkOf(m);
  if (!values.length) return "";
  let top = 0;
  for (const v of values) if (v !== null && v > top) top = v;
  const step = 96 / (SPARK_POINTS - 1);
  const x0 = 96 - (values.length - 1) * step;
  let d = "";
  let pen = "M";
  values.forEach((v, i) => {
    if (v === null) {
      pen = "M";
      return;
    }
    const y = top ? 21 - (v / top) * 19 : 20;
    d += `${pen}${(x0 + i * step).toFixed(1)} ${y.toFixed(1)}`;
    pen = "L";
  });
  return `<svg class="spark hide-narrow" viewBox="0 0 96 22" preserveAspectRatio="none"`
    + ` aria-hidden="true" focusable="false"><path d="${d}"/></svg>`;
}

function sparkOf(m) {
  if (m.spark === null) {
    m.spark = m.sparkText ? m.sparkText.split(",").map((v) => (v === "" ? null : Number(v)))
      : [];
    m.sparkText = null;
  }
  return m.spark;
}

function drawSummary() {
  if (added.size) {
    const note = document.getElementById("added");
    note.querySelector(".count").textContent = String(added.size);
    note.classList.remove("hidden");
  }
  const summary = document.getElementById("summary");
  const signature = counts.join(",");
  if (summary.dataset.counts === signature) return;
  summary.dataset.counts = signature;
  const total = monitors.length;
  const parts = [text("span", "", `${total.toLocaleString("en")} monitor${total === 1
    ? "" : "s"}`)];
  STATES.forEach((state, i) => {
    if (!counts[i]) return;
    const pill = text("span", `state state-${state}`, "");
    pill.dataset.state = state;
    pill.append(text("span", "count", counts[i].toLocaleString("en")), ` ${state}`);
    parts.push(pill);
  });
  summary.replaceChildren(...parts);
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(draw);
}

// -- live -----------------------------------------------------------------------------

// A check as the event stream tells it: the monitor's state (an unknown check leaves it,
// but one in maintenance says so; of a monitor of several locations, the reads of its
// locations set it), its windows' counts, response, sparkline, failure.
function onCheck(c) {
  stats.checks += 1;
  const m = byId.get(c.monitor);
  if (!m) {
    added.add(c.monitor); // configured since the page was read
    schedule();
    return;
  }
  let state = m.state;
  if (c.state !== "unknown") {
    state = RANK[c.state];
    const up = c.state === "down" ? 0 : 1;
    for (let k = 0; k < m.windows.length; k += 2) {
      m.windows[k] += 1;
      m.windows[k + 1] += up;
    }
    if (m.watched && typeof c.metrics?.value === "number") m.value = c.metrics.value;
    if (c.reason !== "skipped") {
      m.response = c.responseMs;
      addSpark(m, c.at, c.code === undefined ? null : c.responseMs);
    }
    if (c.state === "down") {
      m.failAt = c.at * 1000;
      m.failure = c.reason ? (c.detail ? `${c.reason}: ${c.detail}` : c.reason) : null;
    }
  } else if (c.reason === "maintenance") {
    state = RANK.maintenance;
  }
  if (!locatedIds.has(m.id)) setState(m, state);
  m.version += 1;
  if (locatedIds.has(m.id)) {
    // Its pill is the rules' verdict, read with its locations: in view or not, a monitor
    // whose checks came is asked about, so that one going down rises into view.
    located.checked.add(m.id);
    locationsSoon();
  }
  schedule();
}

// A monitor's state changed: counted, and placed anew.
function setState(m, state) {
  if (state === m.state) return;
  counts[m.state] -= 1;
  counts[state] += 1;
  m.state = state;
  sorted = false;
  viewStale = true;
}

// Into the minute of the check: a new point, or the minute's average so far.
function addSpark(m, at, value) {
  const minute = Math.floor(at / 60) * 60;
  const values = sparkOf(m);
  if (m.sparkMinute !== null && minute < m.sparkMinute) return;
  if (minute === m.sparkMinute) {
    if (value === null) return;
    const last = values[values.length - 1];
    values[values.length - 1] = last === null ? value
      : (last * m.sparkCount + value) / (m.sparkCount + 1);
    m.sparkCount += 1;
    return;
  }
  values.push(value);
  if (values.length > SPARK_POINTS) values.shift();
  m.sparkMinute = minute;
  m.sparkCount = value === null ? 0 : 1;
}

// -- locations ------------------------------------------------------------------------

const LOCATIONS_EVERY = 5000; // ms between reads while the checks of such monitors come
const SCROLLED = 300; // ms after a scroll that shows rows without their chips yet
const MAX_IDS = 100; // monitors a read asks about (the rows in view are fewer)
const locatedIds = new Set(island("located") ?? []);
// asked: the ids read once at least; checked: those whose checks came since their last read
const located = { at: 0, timer: 0, asked: new Set(), checked: new Set() };

// The monitors of several locations among the rows drawn.
function locatedInView() {
  if (!locatedIds.size) return [];
  const found = [];
  for (let i = drawn[0]; i < drawn[1]; i++) {
    const item = view[i];
    if (item && !item.group && locatedIds.has(item.id)) found.push(item);
  }
  return found;
}

async function readLocations() {
  located.timer = 0;
  located.at = Date.now();
  // The rows in view first, then those checked since they were last read.
  const wanted = [...new Set([...locatedInView().map((m) => m.id), ...located.checked])]
    .slice(0, MAX_IDS);
  if (!wanted.length) return;
  const ids = wanted.map((id) => `&id=${encodeURIComponent(id)}`).join("");
  let listed;
  try {
    ({ data: listed } = await api(`/monitors?locations=several&limit=${MAX_IDS}${ids}`));
  } catch {
    located.at = Date.now() + 6 * LOCATIONS_EVERY; // not again for a while
    return;
  }
  for (const id of wanted) {
    located.asked.add(id);
    located.checked.delete(id);
  }
  for (const item of listed.monitors) {
    const m = byId.get(item.id);
    if (!m) continue;
    const signature = `${item.state};`
      + item.locations.map((l) => `${l.location}:${l.state}`).join(",");
    if (m.locations && m.signature === signature) continue;
    if (item.state in RANK) setState(m, RANK[item.state]); // the rules' verdict
    m.locations = item.locations;
    m.signature = signature;
    m.version += 1;
  }
  schedule();
}

function locationsSoon(after = LOCATIONS_EVERY) {
  if (located.timer || !locatedIds.size) return;
  located.timer = setTimeout(readLocations, Math.max(0, located.at + after - Date.now()));
}

function live() {
  const status = document.getElementById("live");
  const source = events(`types=check&lastEventId=${encodeURIComponent(data.position)}`, {
    check: onCheck,
    // Too far behind to be sent what was missed: the page says so.
    reset: () => document.getElementById("missed").classList.remove("hidden"),
  }, () => {
    status.textContent = "live";
    status.classList.add("on");
  });
  source.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.classList.remove("on");
  });
}

// -- controls -------------------------------------------------------------------------

function fromAddress() {
  const params = new URLSearchParams(location.search);
  search.value = params.get("q") ?? "";
  const by = params.get("group") ?? "";
  group.value = [...group.options].some((o) => o.value === by) ? by : "";
}

function toAddress() {
  const params = new URLSearchParams();
  if (search.value) params.set("q", search.value);
  if (group.value) params.set("group", group.value);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function changed() {
  viewStale = true;
  toAddress();
  schedule();
}

fromAddress();
search.addEventListener("input", changed);
search.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && search.value) {
    search.value = "";
    changed();
  }
});
group.addEventListener("change", changed);
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.closest("input, select, textarea")) {
    event.preventDefault();
    search.focus();
  }
});
window.addEventListener("scroll", schedule, { passive: true });
window.addEventListener("resize", () => {
  rowHeight = 0;
  schedule();
});
// "3 min ago" moves on without any data: the rows in view are drawn again twice a minute.
setInterval(() => {
  for (let tr = topPad.nextSibling; tr !== bottomPad; tr = tr.nextSibling) tr.version = -1;
  schedule();
}, 30_000);

draw();
document.documentElement.dataset.dashboard = "ready";
stats.readyAt = performance.now();
if (data.position !== null) live();
// A location lost, or its window emptied, without a check of the monitor.
setInterval(() => locationsSoon(), 30_000);
