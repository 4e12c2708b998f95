// What every page's script shares: calls to the API with the session's CSRF token, the
// event stream, and small formatters. No framework: pages are server-rendered first.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// A call to /api/v1: JSON in, JSON out; a problem document becomes an ApiError.
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers },
                 credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(`/api/v1${path}`, init);
  const type = answer.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await answer.json() : null;
  if (!answer.ok) throw new ApiError(answer.status, data);
  return { data, answer };
}

// The API's event stream: `handlers` by event type ("check", "state", "alert"). The
// browser reconnects by itself and resumes after the last event it saw.
export function events(query, handlers, onOpen) {
  const source = new EventSource(`/api/v1/events${query ? `?${query}` : ""}`);
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (event) => handle(JSON.parse(event.data), event));
  }
  if (onOpen) source.addEventListener("open", onOpen);
  return source;
}

// A JSON island the server put in the page (<script type="application/json" id=...>).
export function island(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export function ms(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 10000) return `${(value / 1000).toFixed(1)} s`;
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`;
}

// A watched monitor's value as read: three significant digits, no exponent.
export function figure(value) {
  if (value === null || value === undefined) return "–";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return String(Number(value.toPrecision(3)));
}

export function percent(ratio, digits = 2) {
  if (ratio === null || ratio === undefined) return "–";
  if (ratio === 1) return "100%"; // every check up: no decimals to read, a narrower column
  return `${(ratio * 100).toFixed(digits)}%`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

// The class of a day's bar on an availability strip.
export function uptimeClass(ratio) {
  if (ratio === null || ratio === undefined) return "";
  if (ratio >= 0.9995) return "u-full";
  if (ratio >= 0.99) return "u-high";
  if (ratio >= 0.95) return "u-mid";
  return "u-low";
}

// The theme's colour of a CSS variable, for charts drawn on a canvas.
export function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
