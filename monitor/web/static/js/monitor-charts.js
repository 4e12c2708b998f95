// The monitor page's charts (uPlot): response time and phase times over a range, from the
// raw checks for an hour or so (one point a check), from the trend's buckets beyond. Drag
// to zoom (finer data is read for the window), double-click to come back to the range.
import { lonePoints, timeAxis } from "./chart-kit.js";
import { api, color, ms } from "./lib.js";

export const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400,
                        "90d": 90 * 86400, "1y": 365 * 86400 };
const RAW_SPAN = 1.5 * 3600; // a window this short is drawn check by check
const RAW_PAGES = 20; // pages of 10,000 checks at most, for a monitor checked every second
const SLACK = 0.001; // events round times to the millisecond
// Buckets without a check, between two with, are joined when the hole is no longer than
// this many of the monitor's intervals (checked every 10 min, half of the 5-min buckets of
// a day are empty): a longer hole is a gap, the monitor not running.
const JOIN_INTERVALS = 2.5;

// Runs of null no longer than `span` seconds, with values on both sides, made undefined:
// uPlot joins across undefined and breaks the line at null.
export function join(x, column, span) {
  let last = -1;
  for (let i = 0; i < column.length; i++) {
    if (column[i] === null || column[i] === undefined) continue;
    if (last >= 0 && i - last > 1 && x[i] - x[last] <= span) {
      for (let j = last + 1; j < i; j++) column[j] = undefined;
    }
    last = i;
  }
  return column;
}

const KEEP_ALL = () => true;

export class Charts {
  constructor(monitor, boxes, status) {
    this.path = `/monitors/${encodeURIComponent(monitor.id)}`;
    this.phases = monitor.phases;
    this.interval = monitor.interval || 60;
    this.boxes = boxes; // {response, phases}: the elements the charts are drawn in
    this.status = status;
    this.range = null;
    this.data = null;
    this.zoom = null;
    this.plots = {};
    this.asked = 0;
    this.width = 0;
    // What tests and benchmarks read: the plots (their data as drawn) and what is shown.
    window.monitorCharts = this;
    new ResizeObserver(() => this.resize()).observe(boxes.response);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
  }

  get response() { return this.plots.response; }

  async show(range) {
    this.range = range;
    this.zoom = null;
    const until = Date.now() / 1000;
    // The last hour has no end: checks written while it loads are in it, not lost.
    await this.load(until - RANGES[range], range === "1h" ? null : until);
  }

  async load(since, until) {
    const ticket = ++this.asked;
    this.status.textContent = "Loading…";
    this.status.classList.remove("error");
    try {
      const span = (until ?? Date.now() / 1000) - since;
      const data = span <= RAW_SPAN ? await this.raw(since, until) : await this.trend(since, until);
      if (ticket !== this.asked) return; // another range was asked meanwhile
      this.data = data;
      this.loadedAt = performance.now();
      this.draw();
      this.status.textContent = "";
    } catch (error) {
      if (ticket !== this.asked) return;
      this.status.textContent = error.message;
      this.status.classList.add("error");
    }
  }

  // The checks since `since` (until `until`, or all), oldest first, a page at a time.
  async checks(since, until) {
    const found = [];
    let upper = until === null ? "" : `&until=${Math.ceil(until)}`;
    for (let page = 0; page < RAW_PAGES; page++) {
      const { data } = await api(`${this.path}/checks?since=${since}${upper}&limit=10000`);
      found.push(...data.checks);
      if (data.nextUntil === null) break;
      upper = `&until=${data.nextUntil}`;
    }
    return found.reverse();
  }

  async raw(since, until) {
    const checks = await this.checks(Math.floor(since), until);
    const data = { mode: "raw", step: null, x: [], main: [], failed: [],
                   phases: Object.fromEntries(this.phases.map((name) => [name, []])) };
    for (const check of checks) this.push(data, check.timestamp, check.up, check.responseTime,
                                          check.metrics);
    return data;
  }

  push(data, at, up, response, metrics) {
    data.x.push(at);
    data.main.push(up === true ? response : null);
    data.failed.push(up === false ? response : null);
    for (const [name, column] of Object.entries(data.phases)) column.push(metrics?.[name] ?? null);
  }

  async trend(since, until) {
    const window = `since=${Math.floor(since)}&until=${Math.ceil(until ?? Date.now() / 1000)}`;
    const answers = await Promise.all([
      api(`${this.path}/trend?${window}`),
      ...this.phases.map((name) => api(`${this.path}/trend?${window}&metric=${name}`)),
    ]);
    const [main, ...phases] = answers.map((answer) => answer.data);
    // One point a bucket from the first to the last, empty buckets null: gaps show.
    const step = main.step;
    const first = Math.floor(since / step) * step;
    const x = [];
    for (let t = first; t <= (until ?? Date.now() / 1000); t += step) x.push(t);
    const span = Math.max(JOIN_INTERVALS * this.interval, step);
    const column = (answer, name, keep = KEEP_ALL) => {
      const out = new Array(x.length).fill(null);
      const b = answer.buckets;
      b.start.forEach((start, i) => {
        const at = Math.round((start - first) / step);
        if (at >= 0 && at < x.length && keep(b, i)) out[at] = b[name][i];
      });
      return keep === KEEP_ALL ? join(x, out, span) : out;
    };
    return {
      mode: "trend", step, x,
      main: column(main, "avg"), p90: column(main, "p90"), max: column(main, "max"),
      // A bucket with a failed check: marked at its average.
      failed: column(main, "avg", (b, i) => b.up[i] < b.checks[i]),
      phases: Object.fromEntries(this.phases.map((name, i) => [name, column(phases[i], "avg")])),
    };
  }

  // A check event: on the last hour's chart, unless zoomed or already there.
  add(check) {
    const data = this.data;
    if (this.range !== "1h" || this.zoom || !data || data.mode !== "raw") return;
    if (data.x.length && check.at <= data.x[data.x.length - 1] + SLACK) return;
    const up = check.state === "unknown" ? null : check.state !== "down";
    this.push(data, check.at, up, check.responseMs, check.metrics);
    const oldest = check.at - RANGES["1h"];
    let gone = 0;
    while (gone < data.x.length && data.x[gone] < oldest) gone++;
    if (gone) for (const key of ["x", "main", "failed"]) data[key].splice(0, gone);
    if (gone) for (const column of Object.values(data.phases)) column.splice(0, gone);
    this.update();
  }

  // After the event stream (re)opens: the checks of the last hour it may have missed.
  async catchUp() {
    const data = this.data;
    if (this.range !== "1h" || this.zoom || !data || data.mode !== "raw") return;
    const last = data.x.length ? data.x[data.x.length - 1] : Date.now() / 1000 - 3600;
    const checks = await this.checks(Math.floor(last), null);
    if (data !== this.data) return;
    for (const check of checks) {
      this.add({ at: check.timestamp, responseMs: check.responseTime, metrics: check.metrics,
                 state: check.up === null ? "unknown" : check.up ? "up" : "down" });
    }
  }

  update() {
    const { response, phases } = this.columns();
    this.plots.response?.setData(response);
    this.plots.phases?.setData(phases);
    this.mark();
  }

  columns() {
    const d = this.data;
    const response = d.mode === "raw" ? [d.x, d.main, d.failed] : [d.x, d.main, d.p90, d.max, d.failed];
    return { response, phases: [d.x, ...this.phases.map((name) => d.phases[name])] };
  }

  draw() {
    if (!this.data || typeof uPlot === "undefined") return;
    for (const plot of Object.values(this.plots)) plot.destroy();
    this.drawnAt = undefined; // when these are first drawn (a benchmark's figure)
    const down = { label: "Failed", stroke: color("--down"), fill: color("--down"),
                   paths: () => null, points: { show: true, size: 6, fill: color("--down") } };
    const series = this.data.mode === "raw"
      ? [{ label: "Response time", stroke: color("--chart-1"), width: 1.5 }, down]
      : [{ label: "Average", stroke: color("--chart-1"), width: 1.5 },
         { label: "p90", stroke: color("--chart-2"), width: 1, dash: [4, 3] },
         { label: "Max", stroke: color("--chart-3"), width: 1 },
         { ...down, label: "Failed checks" }];
    const { response, phases } = this.columns();
    this.plots = { response: this.plot(this.boxes.response, series, response) };
    if (this.phases.length) {
      const lines = this.phases.map((name, i) => ({ label: name, stroke: color(`--phase-${i + 1}`),
                                                    width: 1.5 }));
      this.plots.phases = this.plot(this.boxes.phases, lines, phases);
    }
    if (this.zoom) for (const plot of Object.values(this.plots)) plot.setScale("x", this.zoom);
    this.mark();
  }

  // What is drawn, as attributes: the range and its points (tests and benchmarks wait on it).
  mark() {
    this.boxes.response.dataset.points = String(this.data.x.length);
    this.boxes.response.dataset.drawn = this.zoom ? "zoom" : this.range;
  }

  plot(box, series, data) {
    const axis = { stroke: color("--muted"), grid: { stroke: color("--chart-grid"), width: 1 },
                   ticks: { stroke: color("--chart-grid"), width: 1 } };
    const value = (u, v) => (v === null || v === undefined ? "–" : ms(v));
    this.width = box.clientWidth;
    return new uPlot({
      width: Math.max(box.clientWidth, 200), height: this.height(),
      cursor: {
        drag: { x: true, y: false, setScale: false }, sync: { key: "monitor" },
        bind: { dblclick: () => (event) => { if (event.button === 0) this.show(this.range); } },
      },
      scales: { x: { time: true } },
      axes: [timeAxis(axis), { ...axis, size: 64, values: (u, splits) => splits.map((v) => ms(v)) }],
      series: [{ label: "Time", value: (u, t) => (t ? new Date(t * 1000).toLocaleString() : "–") },
               // A bucket between gaps (a new monitor's first checks): a dot of its own.
               ...series.map((s) => ({ value, spanGaps: false, ...s,
                                       points: { filter: lonePoints, fill: s.stroke,
                                                 ...s.points } }))],
      hooks: { setSelect: [(u) => this.selected(u)],
               draw: [() => { this.drawnAt ??= performance.now(); }] },
    }, data, box);
  }

  height() { return matchMedia("(max-width: 640px)").matches ? 180 : 240; }

  resize() {
    const width = this.boxes.response.clientWidth;
    if (!width || width === this.width) return;
    this.width = width;
    for (const plot of Object.values(this.plots)) plot.setSize({ width, height: this.height() });
  }

  // A drag across a chart: both charts zoom to it, with finer data when the range's is coarse.
  selected(u) {
    const { left, width } = u.select;
    if (width < 2) return;
    const min = u.posToVal(left, "x");
    const max = u.posToVal(left + width, "x");
    for (const plot of Object.values(this.plots)) plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.zoom = { min, max };
    for (const plot of Object.values(this.plots)) plot.setScale("x", this.zoom);
    const span = max - min;
    const finer = span <= RAW_SPAN ? this.data.mode !== "raw" : this.data.step > span / 100;
    if (finer) this.load(min, max);
    else this.mark();
  }
}
