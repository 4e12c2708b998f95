// The access-logs page: a log monitor's status classes, top sections and clients, and its
// rate beside the alert's threshold over a window. Live: each 10-second result of the log
// comes as a check event, and the figures are read again then (and every half minute, as
// the window slides); the window is changed in place and kept in the URL.
import { lonePoints, timeAxis } from "./chart-kit.js";
import { api, color, el, events, island } from "./lib.js";

const setup = island("logs-data");
const path = `/monitors/${encodeURIComponent(setup.monitor)}/traffic`;
const chartBox = document.getElementById("rate-chart");
const updated = document.getElementById("updated");
let windowKey = setup.window;
let plot = null;
let busy = false;
let again = false;

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const rate = (value) => (value === null || value === undefined ? "–"
  : `${value >= 100 ? Math.round(value) : value.toFixed(value >= 10 ? 1 : 2)} req/s`);
const share = (part, whole) => (whole ? `${((100 * part) / whole).toFixed(1)}%` : "–");

function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) { size /= 1000; unit += 1; }
  return `${unit ? size.toFixed(1) : size} ${units[unit]}`;
}

// A table's rows: name, count, share with a bar (its width set here: no inline style).
function rows(table, named, whole, empty) {
  const body = table.tBodies[0];
  if (!named.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "3", class: "muted",
                                                 text: empty })));
    return;
  }
  body.replaceChildren(...named.map(([name, count, kind]) => {
    const bar = el("span", { class: `bar${kind ? ` bar-${kind}` : ""}` });
    bar.style.width = whole ? `${(100 * count) / whole}%` : "0";
    return el("tr", { "data-name": name },
              el("td", { class: "name" }, el("span", { text: name }), bar),
              el("td", { class: "num", text: number.format(count) }),
              el("td", { class: "num", text: share(count, whole) }));
  }));
}

function render(t) {
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  const recent = document.getElementById("recent");
  recent.textContent = rate(t.recent);
  recent.classList.toggle("over", t.recent !== null && t.recent > t.maxRate);
  text("latest", t.latest ? `${rate(t.latest.rate)} (${number.format(t.latest.hits)} hits)` : "none yet");
  text("hits", number.format(t.hits));
  text("rate", rate(t.rate));
  text("bytes", bytes(t.bytes));
  const line = document.getElementById("alert-line");
  const open = t.alerts.map((a) => a.message);
  line.className = open.length ? "state state-down" : "state state-up";
  line.textContent = open.length ? open.join(" · ") : "No alert open";
  const last = t.lastAlert;
  text("last-alert", !open.length && last ? `Latest: ${last.message}` : "");
  const classes = Object.entries(t.statuses)
    .filter(([name, count]) => count || (name >= "2xx" && name <= "5xx"))
    .map(([name, count]) => [name, count, name.replace("xx", "")]);
  rows(document.getElementById("statuses"), classes, t.hits, "No request in this window.");
  rows(document.getElementById("sections"), t.sections.map((s) => [s.name, s.hits]), t.hits,
       "No request in this window.");
  rows(document.getElementById("clients"), t.clients.map((c) => [c.name, c.hits]), t.hits,
       "No request in this window.");
  draw(t);
  updated.textContent = `From ${new Date(t.from).toLocaleString()} to now; updated`
    + ` ${new Date(t.until).toLocaleTimeString()}.`;
  chartBox.dataset.hits = String(t.hits);
}

// The rate per step from the window's start to now (null: no period recorded in the step),
// and the threshold as a line.
function draw(t) {
  if (typeof uPlot === "undefined") return;
  const first = Date.parse(t.from) / 1000;
  const last = Math.floor(Date.parse(t.until) / 1000 / t.step) * t.step;
  const known = new Map(t.rates.at.map((at, i) => [at, t.rates.rate[i]]));
  const x = [];
  for (let at = first; at <= last; at += t.step) x.push(at);
  const data = [x, x.map((at) => known.get(at) ?? null), x.map(() => t.maxRate)];
  if (plot && plot.series[2].label === `Alert above ${t.maxRate}` && plot.data[0].length === x.length) {
    plot.setData(data);
    return;
  }
  plot?.destroy();
  const axis = { stroke: color("--muted"), grid: { stroke: color("--chart-grid"), width: 1 },
                 ticks: { stroke: color("--chart-grid"), width: 1 } };
  const value = (u, v) => rate(v);
  plot = new uPlot({
    width: Math.max(chartBox.clientWidth, 200),
    height: matchMedia("(max-width: 640px)").matches ? 160 : 220,
    scales: { x: { time: true }, y: { range: (u, low, high) => [0, Math.max(high, t.maxRate) * 1.1] } },
    axes: [timeAxis(axis), { ...axis, size: 56 }],
    series: [{ label: "Time", value: (u, at) => (at ? new Date(at * 1000).toLocaleString() : "–") },
             { label: "Requests/s", stroke: color("--accent"), width: 1.5, value,
               points: { show: () => known.size < 90, filter: lonePoints, size: 4,
                         fill: color("--panel") } },
             { label: `Alert above ${t.maxRate}`, stroke: color("--down"), width: 1,
               dash: [5, 4], value, points: { show: false } }],
  }, data, chartBox);
  window.logsChart = plot;
}

async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const { data } = await api(`${path}?window=${windowKey}`);
    render(data);
  } catch (error) {
    updated.textContent = `Not updated: ${error.message}`;
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

// The window, changed in place; the links work without the script too.
for (const link of document.querySelectorAll(".windows a")) {
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    windowKey = link.dataset.window;
    for (const other of document.querySelectorAll(".windows a")) other.removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
    history.replaceState({}, "", setup.urls[windowKey]);
    const kept = document.querySelector('#pick input[name="window"]');
    if (kept) kept.value = windowKey; // another log is shown over the same window
    plot?.destroy();
    plot = null;
    refresh();
  });
}
document.getElementById("monitor")?.addEventListener("change", (event) => event.target.form.submit());
new ResizeObserver(() => {
  if (plot && chartBox.clientWidth && chartBox.clientWidth !== plot.width) {
    plot.setSize({ width: chartBox.clientWidth, height: plot.height });
  }
}).observe(chartBox);
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  plot?.destroy();
  plot = null;
  refresh();
});

render(setup.traffic);
events(new URLSearchParams({ monitor: setup.monitor, types: "check" }).toString(),
       { check: () => refresh() });
setInterval(() => { if (!document.hidden) refresh(); }, setup.poll * 1000);
