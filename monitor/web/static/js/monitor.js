// A monitor's page: its state and latest figures, charts, availability strip, checks and
// alerts, kept live from the event stream; check now, pause, maintenance, acknowledge.
// Each action's error (the API's problem document) is shown next to its button. A monitor
// checked from several locations: its locations' table, and each check's location.
import { api, ApiError, ago, el, events, figure, island, ms, percent, uptimeClass } from "./lib.js";
import { Charts, RANGES } from "./monitor-charts.js";

const monitor = island("monitor-data");
const path = `/monitors/${encodeURIComponent(monitor.id)}`;
const $ = (id) => document.getElementById(id);
const PAGE = 50; // checks a page of the table
const ROWS = 1000; // rows the table keeps as live checks come in
// Checked from several locations: an agent's checks arrive a second or more after they
// ran, out of time order with the server's own, so live checks are read from the API (in
// time order) at most every CATCH_UP_EVERY ms, each read going back LATE seconds.
const several = Array.isArray(monitor.locations);
const CATCH_UP_EVERY = 1000;
const LATE = 10;
const LOCATIONS_EVERY = 3000; // ms between reads of the locations' states while checks come

const view = {
  paused: monitor.paused, checkState: monitor.checkState, etag: monitor.etag,
  maintenance: monitor.maintenance, lastCheck: monitor.lastCheck,
  lastResponse: monitor.lastResponseTime, lastReason: monitor.lastReason,
  lastValue: monitor.lastValue,
};

const when = (seconds) => new Date(seconds * 1000).toLocaleString();
const iso = (seconds) => new Date(seconds * 1000).toISOString();

function said(id, error) {
  const node = $(id);
  if (node) node.textContent = error ? (error instanceof ApiError ? error.message : String(error.message ?? error)) : "";
}

// A button's action: disabled while it runs, its error shown beside it.
async function act(button, errorId, run) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  said(errorId, null);
  try {
    await run();
  } catch (error) {
    said(errorId, error);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// -- state and latest figures -------------------------------------------------------------

function active(period, now = Date.now()) {
  return period && (period.until === null || Date.parse(period.until) > now);
}

function inMaintenance() {
  return active(view.maintenance.byHand) || active(view.maintenance.window);
}

function showState() {
  const state = view.paused ? "paused" : inMaintenance() ? "maintenance" : view.checkState;
  const pill = $("state");
  pill.className = `state state-${state}`;
  pill.textContent = state;
  $("last-check").textContent = ago(view.lastCheck);
  $("last-check").title = view.lastCheck ?? "";
  $("last-response").textContent = monitor.watched ? figure(view.lastValue) : ms(view.lastResponse);
  const failing = ["down", "warning"].includes(view.checkState) && view.lastReason;
  $("last-reason").textContent = failing ? view.lastReason : "";
  $("last-reason").classList.toggle("hidden", !failing);
  const { byHand, window: windowed, windows } = view.maintenance;
  const lines = [];
  if (active(byHand)) {
    lines.push(`In maintenance since ${new Date(byHand.since).toLocaleString()}`
               + (byHand.until ? ` until ${new Date(byHand.until).toLocaleString()}` : " until ended"));
  } else if (active(windowed)) {
    lines.push(`In a maintenance window until ${new Date(windowed.until).toLocaleString()}`);
  }
  if (windows.length) lines.push(`Windows: ${windows.join("; ")}`);
  $("maintenance-line").textContent = lines.join(" · ");
  $("maintenance-line").classList.toggle("hidden", !lines.length);
  if ($("pause")) {
    $("pause").textContent = view.paused ? "Resume" : "Pause";
    $("maintenance-on").classList.toggle("hidden", active(byHand));
    $("maintenance-for").classList.toggle("hidden", active(byHand));
    $("maintenance-off").classList.toggle("hidden", !active(byHand));
  }
}

async function loadStats() {
  const { data } = await api(`${path}/stats?window=24h`);
  $("uptime-24h").textContent = percent(data.availability);
  $("p90-24h").textContent = ms(data.responseTime.p90);
}

// GET /monitors/{id}'s body and its ETag: what pause and resume answer too.
function applyDetail(detail, answer) {
  view.etag = answer.headers.get("ETag") ?? view.etag;
  view.paused = detail.paused;
  if (detail.config && $("config")) {
    $("config").replaceChildren(el("code", { text: JSON.stringify(detail.config, null, 2) }));
  }
  showState();
}

// -- locations -------------------------------------------------------------------------

function locationRow(l) {
  return el("tr", { "data-location": l.location },
    el("th", { scope: "row", text: l.location }),
    el("td", {}, el("span", { class: `state state-${l.state}`, text: l.state })),
    el("td", { class: `num ${uptimeClass(l.availability)}`, text: percent(l.availability),
               title: l.availability === null ? "no check in the alert window"
                 : `its checks up since ${new Date(l.since).toLocaleString()}` }),
    el("td", { class: "nowrap", text: l.lastCheck ? ago(l.lastCheck) : "none",
               title: l.lastCheck ?? "" }),
    el("td", { class: "num", text: ms(l.responseTime) }),
    el("td", { class: "hide-narrow", text: l.status ?? "–" }),
    el("td", { text: l.reason ?? "" }));
}

function showLocations(locations) {
  if (!several || !Array.isArray(locations)) return;
  monitor.locations = locations;
  $("locations").tBodies[0].replaceChildren(...locations.map(locationRow));
  // As the server wrote it first (monitor.html).
  const down = locations.filter((l) => l.state === "down").length;
  const all = locations.length;
  const verdict = $("locations-verdict");
  verdict.className = down ? "error" : "muted";
  verdict.textContent = down >= monitor.quorum
    ? `Down from ${down} of ${all} locations: the quorum (${monitor.quorum}) is reached.`
    : down ? `Down from ${down} of ${all} locations, fewer than the quorum (${monitor.quorum}): a warning.`
      : `Down from none of the ${all} locations.`;
}

const located = { at: 0, timer: 0 };

async function readLocations() {
  located.timer = 0;
  located.at = Date.now();
  try {
    const { data } = await api(path);
    showLocations(data.locations);
    if (!["paused", "maintenance"].includes(data.state)) {
      view.checkState = data.state;
      view.lastReason = data.lastReason ?? null;
    }
    showState();
  } catch (error) {
    said("locations-error", error);
    return;
  }
  said("locations-error", null);
}

function locationsSoon() {
  if (!several || located.timer) return;
  located.timer = setTimeout(readLocations, Math.max(0, located.at + LOCATIONS_EVERY - Date.now()));
}

// -- availability per day ---------------------------------------------------------------

async function loadStrip() {
  const { data } = await api(`/uptime?days=90&daily=true&monitor=${encodeURIComponent(monitor.id)}`);
  const item = data.monitors[0];
  const first = Date.parse(data.from);
  const { checks, up } = item.daily;
  const bars = checks.map((count, day) => {
    const date = new Date(first + day * 86400000).toISOString().slice(0, 10);
    const ratio = count ? up[day] / count : null;
    const text = count ? `${date}: ${percent(ratio)} of ${count} checks` : `${date}: no checks`;
    return el("span", { class: uptimeClass(ratio), title: text });
  });
  $("strip").replaceChildren(...bars);
  $("strip-from").textContent = data.from.slice(0, 10);
  const over = (days) => {
    const c = checks.slice(-days).reduce((a, b) => a + b, 0);
    const u = up.slice(-days).reduce((a, b) => a + b, 0);
    return c ? percent(u / c) : "–";
  };
  $("availability-figures").textContent = `today ${over(1)} · 7 d ${over(7)} · 30 d ${over(30)}`
    + ` · 90 d ${percent(item.availability)}`;
  $("strip").setAttribute("aria-label", `Availability of the last 90 days: ${percent(item.availability)}`);
}

// -- checks -----------------------------------------------------------------------------

// `held`: live checks come before the first read's answer (which may hold them too), kept
// until it is shown; then those newer than its newest are added.
const checks = { older: null, newest: null, loaded: false, held: [], shown: new Set(), timer: 0,
                 at: 0 };
const SLACK = 0.001; // events round times to the millisecond

function checkRow(at, state, response, code, reason, detail, where) {
  return el("tr", { "data-at": at },
    el("td", { class: "nowrap", title: iso(at), text: when(at) }),
    el("td", {}, el("span", { class: `state state-${state}`, text: state })),
    several ? el("td", { class: "nowrap", text: where ?? "–" }) : null,
    el("td", { class: "num", text: ms(response) }),
    el("td", { text: code ?? "–" }),
    el("td", { text: reason ?? "" }),
    el("td", { class: "hide-narrow detail", text: detail ?? "" }));
}

// A check of several locations is told apart by its time and location (two locations'
// checks may start at the same millisecond).
const keyOf = (at, where) => `${at.toFixed(3)}|${where}`;

const stateOf = (check) => (check.up === null ? "unknown" : !check.up ? "down"
  : check.warning ? "warning" : "up");

async function loadChecks(first) {
  const body = $("checks").tBodies[0];
  let until = first ? "" : `&until=${checks.older}`;
  let rows = 0;
  try {
    // A page may hold few checks (it walks a bounded part of every monitor's): read on a while.
    for (let page = 0; page < 5 && rows < PAGE; page++) {
      const { data } = await api(`${path}/checks?limit=${PAGE}${until}`);
      for (const c of data.checks) {
        if (first && checks.newest === null) checks.newest = c.timestamp;
        if (several) checks.shown.add(keyOf(c.timestamp, c.location));
        body.append(checkRow(c.timestamp, stateOf(c), c.responseTime, c.status, c.reason,
                             c.detail, c.location));
      }
      rows += data.checks.length;
      checks.older = data.nextUntil;
      if (data.nextUntil === null) break;
      until = `&until=${data.nextUntil}`;
    }
    $("older-checks").classList.toggle("hidden", checks.older === null);
  } finally {
    if (first) {
      checks.loaded = true;
      const held = checks.held.sort((a, b) => a.at - b.at);
      checks.held = [];
      for (const check of held) liveCheck(check);
    }
  }
}

function liveCheck(check) {
  if (!checks.loaded) {
    checks.held.push(check);
    return;
  }
  const body = $("checks").tBodies[0];
  const row = checkRow(check.at, check.state, check.responseMs, check.code, check.reason,
                       check.detail, check.location);
  if (several) {
    // Once each, in time order: another location's check may come after a newer one.
    const key = keyOf(check.at, check.location);
    if (checks.shown.has(key)) return;
    let before = body.firstElementChild;
    while (before && Number(before.dataset.at) > check.at) before = before.nextElementSibling;
    if (before === null && body.rows.length >= ROWS) return; // older than every row kept
    checks.shown.add(key);
    body.insertBefore(row, before);
    checks.newest = Math.max(checks.newest ?? check.at, check.at);
  } else {
    if (checks.newest !== null && check.at <= checks.newest + SLACK) return;
    checks.newest = check.at;
    body.prepend(row);
  }
  if (body.rows.length > ROWS) {
    const gone = body.lastElementChild;
    gone.remove();
    // Its key goes with it: a page open for days keeps ROWS keys, not one a check.
    if (several) checks.shown.delete(keyOf(Number(gone.dataset.at), gone.cells[2].textContent));
    // The older pages start below the last row kept.
    checks.older = Number(Date.parse(body.lastElementChild.cells[0].title)) / 1000;
    $("older-checks").classList.remove("hidden");
  }
}

// -- alerts -----------------------------------------------------------------------------

const alerts = { oldest: null };

function delivery(alert) {
  if (!alert.deliveries.length) return "–";
  return alert.deliveries.map((d) => `${d.provider}: ${d.state}`
    + (d.attempts > 1 ? ` (${d.attempts} attempts)` : "") + (d.error ? `: ${d.error}` : "")).join("; ");
}

function alertRow(alert) {
  const cell = el("td", {});
  if (alert.acknowledged) {
    cell.append(`by ${alert.acknowledged.by}, ${new Date(alert.acknowledged.at).toLocaleString()}`);
  } else if (alert.open && monitor.canWrite) {
    const error = `ack-error-${alert.id}`;
    const button = el("button", { type: "button", class: "ack", "data-alert": alert.id,
                                  "aria-describedby": error, text: "Acknowledge" });
    button.addEventListener("click", () => act(button, error, async () => {
      const { data } = await api(`/alerts/${alert.id}/ack`, { method: "POST" });
      cell.closest("tr").replaceWith(alertRow(data));
    }));
    cell.append(button, el("span", { class: "error", id: error, role: "alert" }));
  } else {
    cell.append(alert.open ? "open" : "–");
  }
  return el("tr", { "data-alert": alert.id, class: alert.open ? "open" : null },
    el("td", { class: "nowrap", text: new Date(alert.time).toLocaleString() }),
    el("td", {}, el("span", { class: `kind kind-${alert.type}`, text: alert.type })),
    el("td", { text: alert.message }),
    el("td", { class: "hide-narrow", text: delivery(alert) }),
    cell);
}

async function loadAlerts(first) {
  const before = first ? "" : `&before=${alerts.oldest}`;
  const { data } = await api(`/alerts?monitor=${encodeURIComponent(monitor.id)}&limit=20${before}`);
  const body = $("alerts").tBodies[0];
  if (first) body.replaceChildren();
  body.append(...data.alerts.map(alertRow));
  if (data.alerts.length) alerts.oldest = data.alerts[data.alerts.length - 1].id;
  $("older-alerts").classList.toggle("hidden", !data.more);
  $("no-alerts").classList.toggle("hidden", body.rows.length > 0);
  $("alerts").classList.toggle("hidden", body.rows.length === 0);
}

// -- actions ----------------------------------------------------------------------------

function wireActions() {
  const check = $("check-now");
  check.addEventListener("click", () => act(check, "check-now-error", async () => {
    check.textContent = "Checking…";
    try {
      const { data } = await api(`${path}/check`, { method: "POST" });
      $("check-verdict").textContent = data.verdict;
      $("check-trace").textContent = data.trace.join("\n");
      $("check-result").classList.remove("hidden");
    } finally {
      check.textContent = "Check now";
    }
  }));

  const pause = $("pause");
  const change = (paused) => api(`${path}/${paused ? "pause" : "resume"}`,
                                 { method: "POST", headers: { "If-Match": view.etag } });
  pause.addEventListener("click", () => act(pause, "pause-error", async () => {
    const wanted = !view.paused;
    let answer;
    try {
      answer = await change(wanted);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 412) throw error;
      // The file changed since it was read (any edit of it does): as long as this monitor
      // is still as the page showed it, the click means the same; else show it as it is.
      const fresh = await api(path);
      applyDetail(fresh.data, fresh.answer);
      if (fresh.data.paused === wanted) {
        throw new Error(`It was ${wanted ? "paused" : "resumed"} meanwhile, elsewhere.`);
      }
      answer = await change(wanted);
    }
    applyDetail(answer.data, answer.answer);
  }));

  const on = $("maintenance-on");
  const off = $("maintenance-off");
  const mine = (data) => data.changes.find((c) => c.monitor === monitor.id) ?? data.changes[0];
  on.addEventListener("click", () => act(on, "maintenance-error", async () => {
    const length = $("maintenance-for").value;
    const { data } = await api(`${path}/maintenance`, { method: "POST",
                                                        body: length ? { for: length } : undefined });
    view.maintenance.byHand = mine(data).maintenance;
    showState();
    off.focus();
  }));
  off.addEventListener("click", () => act(off, "maintenance-error", async () => {
    const { data } = await api(`${path}/maintenance`, { method: "DELETE" });
    view.maintenance.byHand = null;
    view.maintenance.window = mine(data).window;
    showState();
    on.focus();
  }));
}

// -- live -------------------------------------------------------------------------------

function live(charts) {
  const handlers = {
    check(check) {
      if (check.monitor !== monitor.id) return;
      view.lastCheck = iso(check.at);
      view.lastResponse = check.responseMs;
      if (typeof check.metrics?.value === "number") view.lastValue = check.metrics.value;
      // Of several locations the state is the rules' verdict, read with the locations.
      if (check.state !== "unknown" && !several) {
        view.checkState = check.state;
        view.lastReason = check.reason ?? null;
      }
      showState();
      if (several) {
        checksSoon();
        locationsSoon();
      } else {
        liveCheck(check);
      }
      charts.add(check);
    },
    state(change) {
      if (change.monitor !== monitor.id) return;
      if (!several) {  // of several: the rules' verdict, read with the locations
        view.checkState = change.state;
        showState();
      }
      loadStats().catch(() => {});
    },
    alert(alert) {
      if (alert.monitor === monitor.id) loadAlerts(true).catch((e) => said("alerts-error", e));
    },
    reset() { reload(charts); },
  };
  let opened = false;
  events(`monitor=${encodeURIComponent(monitor.id)}`, handlers, () => {
    // The stream starts at its opening: what was written before, and after the page's
    // first reads, is read once more.
    if (opened) return;
    opened = true;
    first.then(() => charts.catchUp()).catch(() => {});
    first.then(() => catchUpChecks()).catch(() => {});
  });
}

async function catchUpChecks() {
  // Of several locations, a monitor with no check yet reads from LATE seconds ago.
  if (checks.newest === null && !several) return;
  const since = Math.floor((checks.newest ?? Date.now() / 1000) - (several ? LATE : 0));
  const { data } = await api(`${path}/checks?since=${since}&limit=${several ? 2 * PAGE : PAGE}`);
  for (const c of data.checks.reverse()) {
    liveCheck({ at: c.timestamp, state: stateOf(c), responseMs: c.responseTime, code: c.status,
                reason: c.reason, detail: c.detail, location: c.location });
  }
}

// The checks of several locations, read from the API as they come (not more often than
// CATCH_UP_EVERY).
function checksSoon() {
  if (checks.timer || !checks.loaded) return;
  checks.timer = setTimeout(() => {
    checks.timer = 0;
    checks.at = Date.now();
    catchUpChecks().catch((e) => said("checks-error", e));
  }, Math.max(0, checks.at + CATCH_UP_EVERY - Date.now()));
}

function reload(charts) {
  $("checks").tBodies[0].replaceChildren();
  Object.assign(checks, { newest: null, loaded: false, held: [], shown: new Set() });
  locationsSoon();
  return Promise.all([
    charts.show(charts.range),
    loadChecks(true).catch((e) => said("checks-error", e)),
    loadAlerts(true).catch((e) => said("alerts-error", e)),
    loadStrip().catch(() => {}),
    loadStats().catch(() => {}),
  ]);
}

// -- the page ---------------------------------------------------------------------------

const charts = new Charts(monitor, { response: $("chart-response"), phases: $("chart-phases") },
                          $("chart-status"));

function choose(range) {
  for (const button of document.querySelectorAll("[data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === range));
  }
  const url = new URL(location.href);
  url.searchParams.set("range", range);
  history.replaceState(null, "", url);
  return charts.show(range);
}

for (const button of document.querySelectorAll("[data-range]")) {
  button.addEventListener("click", () => choose(button.dataset.range));
}
if (monitor.canWrite) wireActions();
$("older-checks").addEventListener("click", (e) => act(e.currentTarget, "checks-error",
                                                        () => loadChecks(false)));
$("older-alerts").addEventListener("click", (e) => act(e.currentTarget, "alerts-error",
                                                        () => loadAlerts(false)));
showState();
showLocations(monitor.locations);
setInterval(() => { // "12 s ago", and a maintenance that ends
  showState();
  showLocations(monitor.locations);
}, 5000);
// A location's window empties and an agent is lost without a check of this monitor.
if (several) setInterval(locationsSoon, 15000);
const asked = new URLSearchParams(location.search).get("range");
// The charts first (the server answers a few requests at a time), then the rest.
const first = choose(asked in RANGES ? asked : "24h").then(() => Promise.all([
  loadChecks(true).catch((e) => said("checks-error", e)),
  loadAlerts(true).catch((e) => said("alerts-error", e)),
  loadStrip().catch((e) => said("availability-figures", e)),
  loadStats().catch(() => {}),
])).then(() => { charts.readyAt = performance.now(); });
live(charts);
