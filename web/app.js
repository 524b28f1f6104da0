// sitewatch console: a single-page app over the JSON API. Live values come from Server-Sent
// Events (/api/v1/events); pages fetch what else they need and say "not available" for any
// endpoint this daemon does not have. No framework, no internet: uPlot (vendor/) draws charts.
"use strict";

// ---- state -------------------------------------------------------------------------------
const S = {
  points: new Map(),  // key -> {value, unit, state, ts, age_ms, rx}
  devices: [],
  session: { logins: false, role: "none", user: null, csrf: null, login_required: false },
  health: null,
  alarms: null,
  page: null,         // {name, arg, update()}
  routes: null,       // [{method, path}] from /api/v1/console
  live: false,
};
const $ = (sel, root = document) => root.querySelector(sel);
const PAGES = {};

// ---- helpers -----------------------------------------------------------------------------
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false)
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

// Every API call: JSON in and out, CSRF token on changes, login dialog on 401.
async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {}, credentials: "same-origin" };
  if (init.method !== "GET") {
    const tok = S.session.csrf || cookie("sw_csrf");
    if (tok) init.headers["X-CSRF-Token"] = tok;
  }
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const r = await fetch(path, init);
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!r.ok) {
    if (r.status === 401 && !opts.quiet) showLogin("Please log in.");
    throw new ApiError(r.status, (doc && doc.error) || r.statusText);
  }
  return doc;
}

// Which routes this daemon has (GET /api/v1/console), so that absent modules are never asked.
function has(path, method = "GET") {
  if (!S.routes) return true;
  path = path.split("?")[0];
  return S.routes.some((r) => r.method === method &&
    (r.path === path || (r.path.endsWith("/") && path.startsWith(r.path) && path.length > r.path.length)));
}

// Some endpoints belong to modules a site may not run: null when absent.
async function optional(path) {
  if (!has(path)) return null;
  try { return await api(path, { quiet: true }); }
  catch (e) { if (e.status === 404 || e.status === 405) return null; throw e; }
}

function na(text = "not available") { return h("span", { class: "na" }, text); }

const STATE_NAMES = {
  0: "Off", 1: "Low power", 2: "Fault", 3: "Bulk", 4: "Absorption", 5: "Float", 6: "Storage",
  7: "Equalize", 8: "Passthru", 9: "Inverting", 10: "Power assist", 11: "Power supply",
  245: "Starting up", 246: "Repeated absorption", 247: "Auto equalize", 248: "BatterySafe",
  252: "External control",
};
const BATTERY_STATE = { 0: "Idle", 1: "Charging", 2: "Discharging" };

function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "—";
  s = Math.round(Math.abs(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

// Readable precision per unit: what an installer reads off a display.
function fmtNum(v, unit) {
  if (v === null || v === undefined) return "—";
  const a = Math.abs(v);
  switch (unit) {
    case "s": return fmtDuration(v);
    case "W": case "VA": return a >= 10000 ? (v / 1000).toFixed(1) + " k" + unit : v.toFixed(0) + " " + unit;
    case "V": return v.toFixed(2) + " V";
    case "A": return (a >= 100 ? v.toFixed(0) : v.toFixed(1)) + " A";
    case "%": return (a >= 10 ? v.toFixed(0) : v.toFixed(1)) + " %";
    case "kWh": return (a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2)) + " kWh";
    case "Ah": return (a >= 100 ? v.toFixed(0) : v.toFixed(1)) + " Ah";
    case "°C": case "C": return v.toFixed(1) + " °C";
    case "Hz": return v.toFixed(2) + " Hz";
    default: {
      const t = Number.isInteger(v) ? String(v) : a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
      return unit ? t + " " + unit : t;
    }
  }
}

function pointAge(p) { return p.age_ms === null ? null : p.age_ms + (Date.now() - p.rx); }

function fmtAge(ms) {
  if (ms === null) return "";
  return ms < 90000 ? Math.round(ms / 1000) + " s ago" : fmtDuration(ms / 1000) + " ago";
}

function fmtPoint(key, p) {
  if (!p) return "—";
  if (p.state === "na") return "n/a";
  if (p.state === "unset") return "—";
  const v = p.state === "ok" ? p.value : p.state === "stale" && p.last !== undefined ? p.last : null;
  if (v === null || v === undefined) return "—";
  if (/\/State$/.test(key)) return (key.startsWith("system/Dc/Battery") ? BATTERY_STATE : STATE_NAMES)[v] || String(v);
  return fmtNum(v, p.unit);
}

// A live value element: data-key, refreshed by updateValues(); stale shown greyed with its age.
function val(key, label) {
  const e = h("span", { class: "v", "data-key": key, "aria-label": label || null });
  paintValue(e);
  return e;
}

function paintValue(e) {
  const key = e.dataset.key;
  const p = S.points.get(key);
  e.textContent = fmtPoint(key, p);
  const stale = p && p.state === "stale";
  e.classList.toggle("stale", !!stale);
  if (stale) {
    e.dataset.age = "(stale, " + fmtAge(pointAge(p)) + ")";
    e.title = "stale: last update " + fmtAge(pointAge(p));
  } else {
    delete e.dataset.age;
    e.removeAttribute("title");
  }
}

function updateValues() {
  document.querySelectorAll("[data-key]").forEach(paintValue);
  if (S.page && S.page.update) S.page.update();
}

let paintQueued = false;
function schedulePaint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => { paintQueued = false; updateValues(); });
}

// A stale point keeps showing its last known value (greyed, with its age): remembered here,
// since the API rightly sends null for anything not ok.
function mergePoints(obj, replace) {
  const rx = Date.now();
  const old = S.points;
  if (replace) S.points = new Map();
  for (const [k, p] of Object.entries(obj)) {
    p.rx = rx;
    const prev = old.get(k);
    if (p.state === "stale" && prev) p.last = prev.state === "ok" ? prev.value : prev.last;
    S.points.set(k, p);
  }
  schedulePaint();
}

function num(key) {
  const p = S.points.get(key);
  return p && p.state === "ok" ? p.value : null;
}

// First ok value among keys, or the sum of a pattern's ok values.
function first(...keys) {
  for (const k of keys) { const v = num(k); if (v !== null) return v; }
  return null;
}
function sumMatching(re) {
  let s = null;
  for (const [k, p] of S.points) if (re.test(k) && p.state === "ok") s = (s || 0) + p.value;
  return s;
}

function devicesOf(service) { return S.devices.filter((d) => d.service === service); }

// ---- live data -----------------------------------------------------------------------------
let es = null, pollTimer = null;
function setLive(on, text) {
  S.live = on;
  const e = $("#live");
  e.textContent = text;
  e.className = "live " + (on ? "on" : "off");
}

function startEvents() {
  if (es) es.close();
  es = new EventSource("/api/v1/events");
  es.addEventListener("snapshot", (ev) => { mergePoints(JSON.parse(ev.data), true); setLive(true, "live"); });
  es.addEventListener("points", (ev) => { mergePoints(JSON.parse(ev.data), false); setLive(true, "live"); });
  es.addEventListener("alarms", () => refreshAlarms());
  es.onerror = () => {
    setLive(false, "reconnecting…");
    if (!pollTimer) pollTimer = setTimeout(pollOnce, 2000);
  };
  es.onopen = () => setLive(true, "live");
}

// While the event stream is down, poll so the page never shows silently old values.
async function pollOnce() {
  pollTimer = null;
  if (S.live) return;
  try { mergePoints((await api("/api/v1/points", { quiet: true })).points, true); } catch (e) { /* still down */ }
  if (!S.live) pollTimer = setTimeout(pollOnce, 2000);
}

async function refreshDevices() {
  try { S.devices = (await api("/api/v1/devices", { quiet: true })).devices; } catch (e) { /* keep */ }
}

async function refreshAlarms() {
  try { S.alarms = await optional("/api/v1/alarms"); } catch (e) { S.alarms = null; }
  const n = S.alarms ? S.alarms.alarms.filter((a) => a.state === "firing").length : 0;
  const b = $("#alarm-count");
  b.hidden = n === 0;
  b.textContent = n;
  b.setAttribute("aria-label", n + " active alarms");
  if (S.page && S.page.onAlarms) S.page.onAlarms();
}

// ---- session -------------------------------------------------------------------------------
async function loadSession() {
  const caps = await optional("/api/v1/console");
  if (caps) { S.routes = caps.routes; S.canChange = caps.can_change; }
  const s = has("/api/v1/login", "POST") ? await optional("/api/v1/session") : null;
  S.session = s || { logins: false, role: "none", user: null, csrf: null, login_required: false };
  const loggedIn = !!S.session.user;
  $("#user").textContent = loggedIn ? S.session.user + " (" + S.session.role + ")" : "";
  $("#logout").hidden = !loggedIn;
  $("#login-open").hidden = !S.session.logins || loggedIn;
}

// May this client change things (an admin session, or this machine when it is trusted)?
function isAdmin() { return S.canChange || S.session.role === "admin"; }

function showLogin(why) {
  const d = $("#login");
  $("#login-why").textContent = why || "This console needs a login.";
  $("#login-error").textContent = "";
  if (!d.open) d.showModal();
  $("#login-user").focus();
}

async function doLogin(ev) {
  ev.preventDefault();
  try {
    await api("/api/v1/login", { method: "POST", quiet: true,
      body: { user: $("#login-user").value, password: $("#login-pass").value } });
    $("#login-pass").value = "";
    $("#login").close();
    await boot();
  } catch (e) {
    $("#login-error").textContent = e.status === 429 ? "Too many failed logins: wait a few minutes." :
      e.status === 401 ? "Wrong user or password." : "Login failed: " + e.message;
  }
}

async function doLogout() {
  try { await api("/api/v1/logout", { method: "POST", quiet: true }); } catch (e) { /* gone anyway */ }
  location.hash = "#/overview";
  location.reload();
}

// ---- router --------------------------------------------------------------------------------
function route() {
  const hash = location.hash;
  const m = hash.match(/^#\/([a-z]+)(?:\/(.*))?$/);
  const name = m && PAGES[m[1]] ? m[1] : "overview";
  const arg = m && m[2] ? decodeURIComponent(m[2]) : null;
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (S.page && S.page.leave) S.page.leave();
  const view = $("#view");
  view.replaceChildren();
  S.page = { name, arg };
  document.title = name[0].toUpperCase() + name.slice(1) + " · " + ($("#site").textContent || "sitewatch");
  delete view.dataset.ready;
  const page = S.page;
  Promise.resolve(PAGES[name](view, arg, page)).catch((e) => {
    if (e.status !== 401) view.append(h("p", { class: "error" }, "Cannot show this page: " + e.message));
  }).finally(() => { if (S.page === page) view.dataset.ready = hash; }); // tests wait for this

}

// ---- charts --------------------------------------------------------------------------------
// uPlot (vendor/, 50 kB) loads on the first page that draws a chart, not on the first load.
let uplotLoading = null;
function needCharts() {
  if (window.uPlot) return Promise.resolve(true);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve) => {
      document.head.append(h("link", { rel: "stylesheet", href: "vendor/uPlot.min.css" }));
      const sc = h("script", { src: "vendor/uPlot.iife.min.js" });
      sc.onload = () => resolve(true);
      sc.onerror = () => resolve(false);
      document.head.append(sc);
    });
  }
  return uplotLoading;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function chartTheme() {
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  return { axis: dark ? "#9aa7b4" : "#5a6673", grid: dark ? "#2d3843" : "#e5e9ed" };
}

function axes(unitY) {
  const t = chartTheme();
  const ax = { stroke: t.axis, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid } };
  return [ax, Object.assign({}, ax, { label: unitY || "", size: 60 })];
}

// A uPlot chart of /api/v1/series data with min/max bands (when the archive has them).
function seriesChart(el, doc, opts = {}) {
  if (!window.uPlot) { el.replaceChildren(na("chart library missing (web/vendor)")); return null; }
  const data = [doc.timestamps];
  const series = [{}];
  const bands = [];
  doc.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    data.push(s.values || []);
    series.push({ label: s.key + (s.unit ? " (" + s.unit + ")" : ""), stroke: c, width: 1.5, spanGaps: false });
    if (s.min && s.max && opts.bands !== false) {
      const idx = data.length;
      data.push(s.max, s.min);
      series.push({ label: s.key + " max", stroke: c + "55", width: 0.5, fill: null, points: { show: false } },
        { label: s.key + " min", stroke: c + "55", width: 0.5, points: { show: false } });
      bands.push({ series: [idx, idx + 1], fill: c + "22" });
    }
  });
  el.replaceChildren();
  const width = Math.max(280, el.clientWidth || 600);
  const u = new uPlot({
    width, height: opts.height || 280, series, bands, axes: axes(doc.series.length === 1 ? doc.series[0].unit : ""),
    cursor: { drag: { x: true, y: false } }, legend: { live: true },
    hooks: opts.hooks || {},
  }, data, el);
  new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height: opts.height || 280 })).observe(el);
  return u;
}

function barsChart(el, labels, rows, keys) {
  if (!window.uPlot) { el.replaceChildren(na("chart library missing (web/vendor)")); return; }
  const xs = labels.map((_, i) => i);
  const bars = uPlot.paths.bars({ size: [0.8 / keys.length, 60], align: 0 });
  const series = [{}];
  const data = [xs];
  keys.forEach((k, i) => {
    series.push({ label: k.replace(/_/g, " ") + " (kWh)", stroke: COLORS[i % COLORS.length], fill: COLORS[i % COLORS.length] + "aa", paths: bars, points: { show: false } });
    data.push(rows.map((r) => (typeof r[k] === "number" ? r[k] : null)));
  });
  const ax = axes("kWh");
  ax[0].values = (u, vals) => vals.map((v) => labels[v] !== undefined ? labels[v] : "");
  ax[0].space = 50;
  el.replaceChildren();
  const u = new uPlot({ width: Math.max(280, el.clientWidth || 600), height: 260, series, axes: ax,
    scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } }, legend: { live: false } }, data, el);
  new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height: 260 })).observe(el);
}

const RANGES = [["1 h", 3600], ["24 h", 86400], ["7 d", 7 * 86400], ["30 d", 30 * 86400], ["1 y", 365 * 86400]];

// A graph panel: range buttons, custom range, pan buttons, drag-zoom, CSV link.
function graphPanel(keysFn, opts = {}) {
  const box = h("div", { class: "chart" });
  const csv = h("a", { href: "#", download: "series.csv" }, "Download CSV");
  const fromIn = h("input", { type: "datetime-local", id: "g-from-" + (opts.id || "x"), "aria-label": "custom range start" });
  const toIn = h("input", { type: "datetime-local", id: "g-to-" + (opts.id || "x"), "aria-label": "custom range end" });
  const msg = h("p", { class: "muted" });
  let span = opts.span || 86400, to = null; // to = null: now
  const btns = RANGES.map(([label, secs]) => h("button", { type: "button", "aria-pressed": String(secs === span),
    onclick: (ev) => { span = secs; to = null; btns.forEach((b) => b.setAttribute("aria-pressed", String(b === ev.currentTarget))); load(); } }, label));
  async function load(zoomFrom, zoomTo) {
    await needCharts();
    const keys = keysFn();
    if (!keys.length) { box.replaceChildren(na("pick one or more points")); csv.hidden = true; return; }
    const now = Math.floor(Date.now() / 1000);
    const t1 = zoomTo || to || now, t0 = zoomFrom || t1 - span;
    const q = "keys=" + encodeURIComponent(keys.join(",")) + "&from=" + Math.floor(t0) + "&to=" + Math.ceil(t1);
    csv.href = "/api/v1/series?" + q + "&format=csv";
    csv.hidden = false;
    try {
      const doc = await optional("/api/v1/series?" + q + "&points=" + Math.min(1000, Math.max(200, box.clientWidth || 600)));
      if (!doc) { box.replaceChildren(na("history is not available on this daemon")); csv.hidden = true; return; }
      if (!doc.timestamps.length) { box.replaceChildren(na("no history recorded yet for this range")); return; }
      const empty = doc.series.every((x) => (x.values || []).every((v) => v === null));
      msg.textContent = (empty ? "No samples in this range yet. " : "") + "Resolution " + fmtDuration(doc.rra_step || doc.step) + " · drag to zoom, double-click to reset";
      seriesChart(box, doc, { hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
        to = b; span = b - a; load(a, b);
      }] } });
    } catch (e) { box.replaceChildren(h("span", { class: "error" }, "history: " + e.message)); }
  }
  const pan = (f) => { const now = Math.floor(Date.now() / 1000); to = Math.min(now, (to || now) + f * span); load(); };
  const custom = () => {
    const a = Date.parse(fromIn.value) / 1000, b = Date.parse(toIn.value) / 1000;
    if (isFinite(a) && isFinite(b) && b > a) { span = b - a; to = b; load(); }
  };
  const el = h("div", {},
    h("div", { class: "row", role: "group", "aria-label": "time range" }, btns,
      h("button", { type: "button", onclick: () => pan(-0.5), "aria-label": "pan back" }, "◀"),
      h("button", { type: "button", onclick: () => pan(0.5), "aria-label": "pan forward" }, "▶")),
    h("div", { class: "row" }, h("label", { for: fromIn.id }, "From"), fromIn, h("label", { for: toIn.id }, "to"), toIn,
      h("button", { type: "button", onclick: custom }, "Apply"), csv),
    box, msg);
  return { el, load };
}

// ---- pages ---------------------------------------------------------------------------------
function gauge(key) {
  const r = 40, c = 2 * Math.PI * r;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("class", "gauge");
  svg.setAttribute("role", "img");
  svg.innerHTML = `<circle class="track" cx="50" cy="50" r="${r}" fill="none" stroke-width="10"/>
    <circle class="fill" cx="50" cy="50" r="${r}" fill="none" stroke-width="10" stroke-linecap="round"
      transform="rotate(-90 50 50)" stroke-dasharray="0 ${c}"/>
    <text x="50" y="57" text-anchor="middle"></text>`;
  svg.update = () => {
    const v = num(key());
    const p = S.points.get(key());
    svg.querySelector(".fill").setAttribute("stroke-dasharray", `${((v || 0) / 100) * c} ${c}`);
    svg.querySelector("text").textContent = v === null ? "—" : Math.round(v) + "%";
    svg.classList.toggle("stale", !!p && p.state === "stale");
    svg.setAttribute("aria-label", "state of charge " + (v === null ? "unknown" : Math.round(v) + " percent"));
  };
  svg.update();
  return svg;
}

function batteryDevice() {
  const b = devicesOf("battery")[0];
  return b ? b.name : null;
}

// Key of a battery quantity: the system value when systemcalc publishes it, else the monitor's.
function batKey(sys, dev) {
  const s = "system/Dc/Battery/" + sys;
  if (S.points.has(s)) return s;
  const b = batteryDevice();
  return b ? b + "/" + dev : s;
}

PAGES.overview = async (view, arg, page) => {
  const pvPower = () => {
    const dc = first("system/Dc/Pv/Power") ?? sumMatching(/^[^/]+\/Yield\/Power$/);
    const ac = sumMatching(/^system\/Ac\/PvOn(Output|Grid|Genset)\/L[123]\/Power$/);
    return dc === null && ac === null ? null : (dc || 0) + (ac || 0);
  };
  const loadPower = () => sumMatching(/^system\/Ac\/Consumption\/L[123]\/Power$/) ?? first("system/Dc/System/Power");
  const gridPower = () => sumMatching(/^system\/Ac\/Grid\/L[123]\/Power$/) ?? sumMatching(/^system\/Ac\/Genset\/L[123]\/Power$/);
  const big = (cls) => h("div", { class: "big " + cls });
  const pvBig = big("pv"), loadBig = big("load"), gridBig = big("grid");
  const pipe1 = h("div", { class: "pipe", "aria-hidden": "true" }), pipe2 = h("div", { class: "pipe", "aria-hidden": "true" });
  const g = gauge(() => batKey("Soc", "Soc"));
  const batDl = h("dl", { class: "kv" });
  const flow = h("section", { class: "card wide", "aria-labelledby": "flow-h" },
    h("h2", { id: "flow-h" }, "Power flow"),
    h("div", { class: "flow" },
      h("div", { class: "node pv" }, h("h2", {}, "Solar"), pvBig, h("div", { class: "small" }, "DC chargers + PV inverters")),
      pipe1,
      h("div", { class: "node bat" }, h("h2", {}, "Battery"), g, batDl),
      pipe2,
      h("div", { class: "node load" }, h("h2", {}, "Loads"), loadBig, h("div", { class: "small", id: "load-src" }, "")),
      h("div", {}), h("div", {}), h("div", {}), h("div", {}),
      h("div", { class: "node grid" }, h("h2", {}, "Grid / generator"), gridBig, h("div", { class: "small", id: "grid-dir" }, ""))));
  const alarmsBox = h("div", {}), energyBox = h("div", {});
  view.append(h("h1", {}, "Overview"), h("div", { class: "grid" }, flow,
    h("section", { class: "card", "aria-labelledby": "al-h" }, h("h2", { id: "al-h" }, "Active alarms"), alarmsBox),
    h("section", { class: "card", "aria-labelledby": "en-h" }, h("h2", { id: "en-h" }, "Today's energy"), energyBox)));
  const batRows = [["Voltage", "Voltage", "Dc/0/Voltage"], ["Current", "Current", "Dc/0/Current"],
    ["Power", "Power", "Dc/0/Power"], ["State", "State", "State"], ["Time to go", "TimeToGo", "TimeToGo"]];
  let batFor = null;
  const paintBat = () => {
    const sig = batRows.map((r) => batKey(r[1], r[2])).join();
    if (sig === batFor) return;
    batFor = sig;
    batDl.replaceChildren(...batRows.flatMap(([label, s, d]) => [h("dt", {}, label), h("dd", {}, val(batKey(s, d), label))]));
  };
  const setBig = (el, v) => { el.textContent = v === null ? "—" : fmtNum(v, "W"); };
  page.update = () => {
    paintBat();
    g.update();
    const pv = pvPower(), load = loadPower(), grid = gridPower();
    setBig(pvBig, pv); setBig(loadBig, load); setBig(gridBig, grid);
    if (grid === null) gridBig.append(h("div", { class: "small" }, "not connected / not measured"));
    if (load === null) loadBig.append(h("div", { class: "small" }, "not measured"));
    $("#grid-dir").textContent = grid === null ? "" : grid > 5 ? "importing" : grid < -5 ? "exporting" : "idle";
    pipe1.classList.toggle("active", (pv || 0) > 5);
    const bp = num(batKey("Power", "Dc/0/Power"));
    pipe2.classList.toggle("active", (load || 0) > 5 || Math.abs(bp || 0) > 5);
  };
  page.onAlarms = () => {
    const a = S.alarms;
    if (!a) { alarmsBox.replaceChildren(na("alarms are not available on this daemon")); return; }
    const firing = a.alarms.filter((x) => x.state === "firing");
    alarmsBox.replaceChildren(firing.length ? h("ul", {}, firing.map((x) => h("li", { class: "sev-" + x.severity },
      x.title + " — " + x.severity + (x.acked ? " (acknowledged)" : "")))) : h("p", { class: "muted" }, "No active alarms."),
    h("a", { href: "#/alarms" }, "All alarms"));
  };
  page.update();
  page.onAlarms();
  const e = await optional("/api/v1/energy?period=day&from=-1d");
  if (!e || !e.rows || !e.rows.length) { energyBox.replaceChildren(na(e ? "no energy recorded yet today" : "energy counters are not available")); return; }
  const today = e.rows[e.rows.length - 1];
  const names = { pv_dc: "Solar (DC)", pv_ac: "Solar (AC)", consumption: "Consumption", grid_in: "From grid",
    grid_out: "To grid", battery_in: "Into battery", battery_out: "Out of battery" };
  energyBox.replaceChildren(h("div", { class: "tiles" }, Object.keys(names).filter((k) => k in today).map((k) =>
    h("div", { class: "tile" }, h("div", { class: "t" }, names[k]), h("div", { class: "v" }, fmtNum(today[k], "kWh"))))),
  h("p", { class: "muted" }, "Day " + today.date));
};

const MAIN_VALUES = {
  battery: ["Dc/0/Voltage", "Dc/0/Current", "Soc", "TimeToGo"],
  solarcharger: ["Pv/V", "Yield/Power", "Dc/0/Voltage", "State"],
  inverter: ["Ac/Out/L1/V", "Ac/Out/L1/P", "State"],
  vebus: ["Ac/Out/L1/P", "Dc/0/Voltage", "State"],
  pvinverter: ["Ac/Power", "Ac/Energy/Forward"],
  charger: ["Dc/0/Voltage", "Dc/0/Current", "State"],
  dcdc: ["Dc/In/V", "Dc/0/Voltage", "State"],
};

PAGES.devices = async (view, arg, page) => {
  await refreshDevices();
  if (arg) return deviceDetail(view, arg, page);
  view.append(h("h1", {}, "Devices"), h("div", { class: "card scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Device", "Product", "Class", "State", "Main values"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, S.devices.map((d) => h("tr", {},
      h("td", {}, h("a", { href: "#/devices/" + encodeURIComponent(d.name) }, d.name)),
      h("td", {}, d.product_name || na("unknown")),
      h("td", {}, d.service || "—"),
      h("td", { class: "state-" + d.state, title: d.status }, d.state === "lost" ? "lost — " + d.status : d.state),
      h("td", {}, (MAIN_VALUES[d.service] || []).map((p) => h("span", { style: "margin-right:12px" }, val(d.name + "/" + p, p)))))))),
  S.devices.length ? null : h("p", { class: "muted" }, "No devices configured.")));
};

async function deviceDetail(view, name, page) {
  const d = S.devices.find((x) => x.name === name);
  if (!d) { view.append(h("p", { class: "error" }, "No device " + name)); return; }
  const idRows = [["Product", d.product_name], ["Product id", d.product_id], ["Serial", d.serial], ["Firmware", d.firmware],
    ["Driver", d.driver], ["Class", d.service], ["Instance", d.instance], ["Connection", d.connection],
    ["State", d.state + " — " + d.status], ["Discovery", d.discovery], ["Since", d.since ? new Date(d.since).toLocaleString() : null]];
  const tbody = h("tbody");
  const keys = () => [...S.points.keys()].filter((k) => k.startsWith(name + "/"));
  let shown = "";
  page.update = () => {
    const ks = keys();
    if (ks.join() === shown) return;
    shown = ks.join();
    tbody.replaceChildren(...ks.map((k) => h("tr", {}, h("td", {}, k.slice(name.length + 1)), h("td", { class: "num" }, val(k)),
      h("td", {}, S.points.get(k).unit))));
  };
  const main = (MAIN_VALUES[d.service] || []).map((p) => name + "/" + p).filter((k) => S.points.has(k) && S.points.get(k).unit);
  const gp = graphPanel(() => main.slice(0, 4), { id: "dev" });
  view.append(h("h1", {}, h("a", { href: "#/devices" }, "Devices"), " / " + name),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Identity"), h("dl", { class: "kv" },
        idRows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === undefined ? "—" : String(v))]))),
      h("section", { class: "card" }, h("h2", {}, "Link counters"), h("dl", { class: "kv" },
        Object.entries(d.counters).flatMap(([k, v]) => [h("dt", {}, k.replace(/_/g, " ")), h("dd", {}, v.toLocaleString())]))),
      h("section", { class: "card wide" }, h("h2", {}, "Graphs"), gp.el),
      h("section", { class: "card wide scroll" }, h("h2", {}, "Every point"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Path"), h("th", { scope: "col", class: "num" }, "Value"), h("th", { scope: "col" }, "Unit"))), tbody))));
  page.update();
  gp.load();
}

PAGES.graphs = async (view, arg, page) => {
  const chosen = new Set((sessionStorage.getItem("graph-keys") || "").split(",").filter(Boolean));
  const filter = h("input", { type: "search", id: "pick-filter", placeholder: "filter, e.g. Voltage" });
  const list = h("div", { class: "picker", role: "group", "aria-label": "points to graph" });
  const gp = graphPanel(() => [...chosen].slice(0, 8), { id: "g" });
  const paintList = () => {
    const f = filter.value.toLowerCase();
    const keys = [...S.points.entries()].filter(([k, p]) => p.unit && k.toLowerCase().includes(f)).map(([k]) => k).slice(0, 300);
    list.replaceChildren(...keys.map((k) => {
      const id = "pk-" + k.replace(/[^A-Za-z0-9]/g, "_");
      return h("label", { for: id }, h("input", { type: "checkbox", id, checked: chosen.has(k), onchange: (e) => {
        if (e.target.checked) chosen.add(k); else chosen.delete(k);
        sessionStorage.setItem("graph-keys", [...chosen].join(","));
        gp.load();
      } }), k);
    }));
  };
  filter.addEventListener("input", paintList);
  const eBox = h("div", { class: "chart" });
  let period = "day";
  const eBtns = ["day", "month", "year"].map((p) => h("button", { type: "button", "aria-pressed": String(p === period),
    onclick: () => { period = p; eBtns.forEach((b) => b.setAttribute("aria-pressed", String(b.textContent === p))); loadEnergy(); } }, p));
  async function loadEnergy() {
    await needCharts();
    const e = await optional("/api/v1/energy?period=" + period);
    if (!e) { eBox.replaceChildren(na("energy counters are not available")); return; }
    if (!e.rows.length) { eBox.replaceChildren(na("no energy recorded yet")); return; }
    const keys = Object.keys(e.rows[0]).filter((k) => k !== "date");
    barsChart(eBox, e.rows.map((r) => r.date), e.rows, keys);
  }
  view.append(h("h1", {}, "Graphs"), h("div", { class: "grid side" },
    h("section", { class: "card" }, h("h2", {}, "Points"), h("label", { for: "pick-filter" }, "Filter"), filter, list),
    h("section", { class: "card" }, h("h2", {}, "History"), gp.el),
    h("section", { class: "card wide" }, h("h2", {}, "Energy"), h("div", { class: "row", role: "group", "aria-label": "energy period" }, eBtns), eBox)));
  if (!chosen.size) {
    const k = ["system/Dc/Battery/Soc", batteryDevice() && batteryDevice() + "/Soc"].find((x) => x && S.points.has(x));
    if (k) chosen.add(k);
  }
  let n = -1;
  page.update = () => { if (S.points.size !== n) { n = S.points.size; paintList(); } };
  page.update();
  gp.load();
  loadEnergy();
};

PAGES.battery = async (view, arg, page) => {
  await refreshDevices();
  // The engine's points live under the monitor (or [battery NAME]) device: find History/EquivalentCycles.
  const owners = [...new Set([...S.points.keys()].filter((k) => /\/(History\/EquivalentCycles|Soh)$/.test(k)).map((k) => k.split("/")[0]))];
  const b = owners[0] || batteryDevice();
  if (!b) { view.append(h("h1", {}, "Battery"), h("p", {}, na("no battery monitor or battery engine configured"))); return; }
  const key = (p) => b + "/" + p;
  const tiles = (items) => h("div", { class: "tiles" }, items.map(([t, k]) => h("div", { class: "tile" }, h("div", { class: "t" }, t), h("div", { class: "v" }, val(k, t)))));
  const counters = [...S.points.keys()].filter((k) => k.startsWith(b + "/History/") && !/\/(Rainflow|AverageSoc|Daily)\//.test(k));
  const rf = [...S.points.keys()].filter((k) => k.startsWith(b + "/History/Rainflow/Bin")).sort((x, y) => parseInt(x.split("Bin")[1]) - parseInt(y.split("Bin")[1]));
  const rfBox = h("div", { class: "chart" });
  const gp = graphPanel(() => [S.points.has("system/Dc/Battery/Soc") ? "system/Dc/Battery/Soc" : key("Soc")], { id: "soc", span: 7 * 86400 });
  view.append(h("h1", {}, "Battery — " + b), h("div", { class: "grid" },
    h("section", { class: "card" }, h("h2", {}, "Now"), tiles([["State of charge", key("Soc")], ["Time to go", key("TimeToGo")],
      ["Voltage", key("Dc/0/Voltage")], ["Current", key("Dc/0/Current")]])),
    h("section", { class: "card" }, h("h2", {}, "Health"), tiles([["State of health", key("Soh")], ["Confidence", key("SohConfidence")],
      ["Equivalent cycles", key("History/EquivalentCycles")], ["Capacity estimate", key("History/CapacityEstimate")]])),
    h("section", { class: "card" }, h("h2", {}, "Average SoC"), tiles([["1 day", key("History/AverageSoc/Day1")], ["7 days", key("History/AverageSoc/Day7")],
      ["30 days", key("History/AverageSoc/Day30")], ["90 days", key("History/AverageSoc/Day90")]])),
    h("section", { class: "card wide" }, h("h2", {}, "State of charge history"), gp.el),
    h("section", { class: "card" }, h("h2", {}, "Depth-of-discharge histogram (rainflow)"), rf.length ? rfBox : na("no rainflow counts published")),
    h("section", { class: "card scroll" }, h("h2", {}, "History counters"), counters.length ? h("table", {}, h("tbody", {},
      counters.map((k) => h("tr", {}, h("td", {}, k.slice(b.length + 9)), h("td", { class: "num" }, val(k)))))) : na("no history counters"))));
  if (rf.length) {
    const w = 100 / rf.length;
    const labels = rf.map((_, i) => Math.round(i * w) + "–" + Math.round((i + 1) * w) + "%");
    const draw = () => barsChart(rfBox, labels, rf.map((k) => ({ cycles: num(k) })), ["cycles"]);
    needCharts().then(() => requestAnimationFrame(draw));
  }
  gp.load();
};

PAGES.alarms = async (view, arg, page) => {
  const act = h("div", {}), logBox = h("div", {}), silBox = h("div", {}), outBox = h("div", {}), mailMsg = h("span", { role: "status" });
  const admin = isAdmin();
  const target = h("input", { id: "sil-target", placeholder: "site, a device, a rule or an alarm id", required: true });
  const dur = h("select", { id: "sil-dur" }, ["30m", "1h", "2h", "8h", "1d", "7d"].map((d) => h("option", { value: d }, d)));
  const comment = h("input", { id: "sil-comment", placeholder: "why (maintenance …)" });
  const silMsg = h("span", { role: "status", class: "muted" });
  const who = () => S.session.user || "console";
  const conf = has("/api/v1/notify/x/test", "POST") ? await optional("/api/v1/config") : null;
  const notifyRoutes = conf ? conf.sections.filter((x) => x.type === "notify").map((x) => x.name) : [];
  const mailRoute = h("select", { id: "mail-route" }, notifyRoutes.length ? notifyRoutes.map((n) => h("option", { value: n }, n)) : h("option", { value: "" }, "no [notify] routes"));
  const outboxTable = (o) => {
    const rows = o.messages || o.outbox || o.entries || [];
    return Array.isArray(rows) && rows.length ? h("table", {}, h("tbody", {}, rows.map((m) => h("tr", {},
      h("td", {}, m.route || ""), h("td", {}, m.state || m.status || ""), h("td", {}, m.ts ? new Date(m.ts).toLocaleString() : ""), h("td", {}, m.error || "")))))
      : h("pre", { class: "log" }, JSON.stringify(o, null, 2));
  };
  async function paint() {
    const a = S.alarms;
    if (!a) { act.replaceChildren(na("alarms are not available on this daemon")); silBox.replaceChildren(na()); }
    else {
      act.replaceChildren(a.alarms.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Alarm", "Severity", "Since", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, a.alarms.map((x) => h("tr", {}, h("td", {}, x.title, h("div", { class: "muted" }, x.values || "")),
          h("td", { class: "sev-" + x.severity }, x.severity), h("td", {}, x.since ? new Date(x.since).toLocaleString() : "—"),
          h("td", {}, x.state + (x.silenced ? ", silenced" : "") + (x.acked ? ", acknowledged by " + x.acked_by : "")),
          h("td", {}, x.acked || x.state !== "firing" ? "" : h("button", { type: "button", disabled: !admin, title: admin ? null : "admins only",
            onclick: async (e) => { e.target.disabled = true; try { await api("/api/v1/alarms/" + encodeURI(x.id) + "/ack", { method: "POST", body: { who: who() } }); } catch (err) { alert("Acknowledge failed: " + err.message); } await refreshAlarms(); } }, "Acknowledge"))))))
        : h("p", { class: "muted" }, "No active alarms."));
      silBox.replaceChildren(a.silences.length ? h("table", {}, h("tbody", {}, a.silences.map((s) => h("tr", {}, h("td", {}, s.target),
        h("td", {}, new Date(s.from).toLocaleString() + " – " + new Date(s.until).toLocaleString()), h("td", {}, s.comment || ""), h("td", {}, s.who),
        h("td", {}, h("button", { type: "button", disabled: !admin, onclick: async () => { try { await api("/api/v1/silences/" + s.id, { method: "DELETE" }); } catch (err) { alert(err.message); } refreshAlarms(); } }, "End"))))))
        : h("p", { class: "muted" }, "No silences."));
    }
    const l = await optional("/api/v1/alarms/log");
    logBox.replaceChildren(!l ? na() : !l.log.length ? h("p", { class: "muted" }, "Empty.") : h("table", {}, h("tbody", {},
      l.log.slice(-100).reverse().map((e) => h("tr", {}, h("td", {}, new Date(e.ts).toLocaleString()), h("td", {}, e.id), h("td", {}, e.event), h("td", {}, e.who || ""))))));
    const o = await optional("/api/v1/outbox");
    outBox.replaceChildren(!o ? na("the mail outbox listing is not available on this daemon") : outboxTable(o));
  }
  page.onAlarms = paint;
  const silForm = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/api/v1/silences", { method: "POST", body: { target: target.value, duration: dur.value, comment: comment.value, who: who() } }); silMsg.textContent = "Silence created."; }
    catch (err) { silMsg.textContent = "Failed: " + err.message; }
    refreshAlarms();
  } }, h("div", { class: "row" }, h("label", { for: "sil-target" }, "Target"), target, h("label", { for: "sil-dur" }, "For"), dur,
    h("label", { for: "sil-comment" }, "Comment"), comment, h("button", { type: "submit", disabled: !admin }, "Silence"), silMsg));
  view.append(h("h1", {}, "Alarms"), h("div", { class: "grid" },
    h("section", { class: "card wide scroll" }, h("h2", {}, "Active"), act),
    h("section", { class: "card wide" }, h("h2", {}, "Silences and maintenance windows"), silBox, silForm),
    h("section", { class: "card wide scroll" }, h("h2", {}, "Log"), logBox),
    h("section", { class: "card" }, h("h2", {}, "Mail outbox"), outBox, h("div", { class: "row" },
      h("label", { for: "mail-route" }, "Route"), mailRoute,
      h("button", { type: "button", disabled: !admin || !notifyRoutes.length, onclick: async (ev) => {
        ev.target.disabled = true;
        mailMsg.textContent = "Sending…";
        try { const r = await api("/api/v1/notify/" + encodeURIComponent(mailRoute.value) + "/test", { method: "POST", body: {} });
          mailMsg.textContent = r && r.sent === false ? "Queued, not delivered yet." : "Test message sent."; }
        catch (err) { mailMsg.textContent = "Failed: " + err.message; }
        ev.target.disabled = false;
      } }, "Send a test message"), mailMsg))));
  await refreshAlarms();
};

PAGES.diagnostics = async (view) => {
  await refreshDevices();
  const health = await api("/api/v1/health");
  const logBox = h("div", {}), mbBox = h("div", {});
  view.append(h("h1", {}, "Diagnostics"), h("div", { class: "grid" },
    h("section", { class: "card" }, h("h2", {}, "Daemon"), h("dl", { class: "kv" },
      h("dt", {}, "Version"), h("dd", {}, health.version), h("dt", {}, "Uptime"), h("dd", {}, fmtDuration(health.uptime_s)),
      h("dt", {}, "Status"), h("dd", { class: health.status === "ok" ? "state-ok" : "state-lost" }, health.status),
      h("dt", {}, "Devices"), h("dd", {}, health.devices_ok + " ok, " + health.devices_down + " down"),
      h("dt", {}, "Points"), h("dd", {}, health.points)),
      isAdmin() ? h("p", {}, h("a", { href: "/api/v1/diagnostics", download: "sitewatch-diagnostics.json" }, "Download the diagnostics bundle")) : h("p", { class: "muted" }, "The diagnostics bundle is for admins.")),
    h("section", { class: "card" }, h("h2", {}, "Modbus server clients"), mbBox),
    h("section", { class: "card wide scroll" }, h("h2", {}, "Link counters"), h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "Port"),
        ...Object.keys((S.devices[0] || { counters: {} }).counters).map((c) => h("th", { scope: "col", class: "num" }, c.replace(/_/g, " "))))),
      h("tbody", {}, S.devices.map((d) => h("tr", {}, h("td", { class: "state-" + d.state }, d.name), h("td", {}, d.connection),
        ...Object.values(d.counters).map((v) => h("td", { class: "num" }, v.toLocaleString()))))))),
    h("section", { class: "card wide" }, h("h2", {}, "Recent log"), logBox)));
  const mb = await optional("/api/v1/modbus/clients");
  mbBox.replaceChildren(!mb ? na("the Modbus server is not running") : h("div", {},
    h("p", { class: "muted" }, "Listening on " + mb.listen + ", at most " + mb.max_clients + " clients."),
    mb.clients.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Client", "Connected since", "Reads"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, mb.clients.map((c) => h("tr", {}, h("td", {}, c.peer), h("td", {}, new Date(c.since).toLocaleString()),
        h("td", { class: "num" }, c.requests.toLocaleString())))))
      : h("p", { class: "muted" }, "No SCADA client connected.")));
  if (!isAdmin()) { logBox.replaceChildren(na("log lines are for admins")); return; }
  try {
    const l = await api("/api/v1/log", { quiet: true });
    logBox.replaceChildren(h("pre", { class: "log" }, l.lines.map((x) => new Date(x.ts).toLocaleTimeString() + " " + x.level + ": " + x.text).join("\n")));
  } catch (e) { logBox.replaceChildren(na(e.status === 401 || e.status === 403 ? "log lines are for admins" : "not available")); }
};

PAGES.settings = async (view) => {
  const c = await api("/api/v1/config");
  view.append(h("h1", {}, "Settings"), h("p", { class: "muted" }, "The effective configuration (" + c.file + "), read only; secrets are masked. Edit the file and reload (kill -HUP) to change it."),
    h("div", { class: "grid" }, c.sections.map((s) => h("section", { class: "card" },
      h("h2", {}, "[" + s.type + (s.name ? " " + s.name : "") + "]"), h("p", { class: "muted" }, s.file + ":" + s.line),
      Object.keys(s.keys).length ? h("dl", { class: "kv" }, Object.entries(s.keys).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : na("defaults")))));
};

// ---- boot ----------------------------------------------------------------------------------
async function boot() {
  await loadSession();
  const health = await optional("/api/v1/health");
  if (health) { S.health = health; $("#site").textContent = health.site; }
  if (S.session.logins && S.session.login_required && !S.session.user && S.session.role === "none") {
    $("#view").replaceChildren(h("p", { class: "muted" }, "Log in to see this site."));
    setLive(false, "logged out");
    showLogin();
    return;
  }
  await refreshDevices();
  startEvents();
  route();
  refreshAlarms();
}

$("#login-form").addEventListener("submit", doLogin);
$("#logout").addEventListener("click", doLogout);
$("#login-open").addEventListener("click", () => showLogin("Log in to make changes."));
window.addEventListener("hashchange", route);
setInterval(() => { if (S.live) document.querySelectorAll(".stale[data-key]").forEach(paintValue); }, 1000);
setInterval(refreshDevices, 10000);
setInterval(refreshAlarms, 15000);
boot().catch((e) => { $("#view").replaceChildren(h("p", { class: "error" }, "Cannot reach the daemon: " + e.message)); });
