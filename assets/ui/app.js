// LocalRouter dashboard: plain JavaScript, no build step, no dependencies.
// It talks only to the gateway that served it (/ui/api/...), and draws its
// charts as SVG itself.
"use strict";

const $ = (sel) => document.querySelector(sel);
const maxRows = 500;

// el builds an element; children may be strings or nodes.
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v; else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== undefined && c !== null) n.append(c);
  return n;
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const n = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const c of children) n.append(c);
  return n;
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || r.status + " " + r.statusText);
  return body;
}

function showError(e) {
  const p = $("#error");
  if (!e) { p.hidden = true; return; }
  p.textContent = String(e.message || e);
  p.hidden = false;
}

// Formatting.
function fmtInt(n) {
  n = Number(n) || 0;
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + "B";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return n.toLocaleString("en-US");
}
function fmtUSD(v) {
  v = Number(v) || 0;
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.0001) return "<$0.0001";
  if (Math.abs(v) < 0.01) return "$" + v.toFixed(4);
  return "$" + v.toFixed(2);
}
function fmtMS(v) {
  v = Number(v) || 0;
  if (v >= 10000) return (v / 1000).toFixed(1) + " s";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  return Math.round(v) + " ms";
}
function fmtTime(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
const plural = (n, word) => fmtInt(n) + " " + word + (n === 1 ? "" : "s");
const isError = (r) => r.status >= 400 || !!r.error;

// ---- Tabs ----
const tabs = ["live", "usage", "health"];
function showTab() {
  const want = location.hash.slice(1);
  const tab = tabs.includes(want) ? want : "live";
  for (const t of tabs) $("#" + t).hidden = t !== tab;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.tab === tab);
  document.body.dataset.tab = tab;
  showError(null);
  if (tab === "usage") loadUsage();
  if (tab === "health") loadHealth();
}

// ---- Live ----
const live = { rows: new Map(), providers: new Set(), clients: new Set() };

function filter() {
  return {
    side: $("#f-side").value, provider: $("#f-provider").value,
    client: $("#f-client").value, errors: $("#f-status").value === "errors",
  };
}
function matches(r, f) {
  return (!f.side || r.side === f.side) && (!f.provider || r.provider === f.provider) &&
    (!f.client || r.client === f.client) && (!f.errors || isError(r));
}

function addOption(sel, set, v) {
  if (!v || set.has(v)) return;
  set.add(v);
  const opts = [...sel.options].slice(1).map((o) => o.value).concat(v).sort();
  const cur = sel.value;
  sel.replaceChildren(sel.options[0], ...opts.map((o) => el("option", { value: o }, o)));
  sel.value = cur;
}

function rowFor(r) {
  const status = isError(r) ? "st-err" : "st-ok";
  const route = el("td", { class: "c-route" },
    el("span", { class: "side " + (r.side || "none") }, r.side || "none"), " ",
    r.provider ? r.provider + "/" + r.model : (r.model || "—"));
  if (r.fallback) route.append(" ", el("span", { class: "tag" }, "fallback"));
  if (r.stream) route.append(" ", el("span", { class: "tag" }, "stream"));
  const tokens = el("td", { class: "num c-tokens" }, fmtInt(r.input_tokens) + " / " + fmtInt(r.output_tokens));
  if (r.estimated) tokens.append(" ", el("span", { class: "tag", title: "estimated: the upstream reported no usage" }, "≈"));
  return el("tr", { "data-id": r.id, "data-side": r.side, "data-status": r.status, tabindex: "0" },
    el("td", { class: "c-time" }, fmtTime(r.time)),
    el("td", { class: "c-client" }, r.client || "—"),
    el("td", { class: "c-door" }, r.door),
    route,
    el("td", { class: "c-reason" }, r.reason || ""),
    el("td", { class: "c-status " + status }, String(r.status || "—")),
    el("td", { class: "num c-latency" }, fmtMS(r.latency_ms)),
    el("td", { class: "num c-ttfb" }, r.ttfb_ms ? fmtMS(r.ttfb_ms) : "—"),
    tokens,
    el("td", { class: "num c-cost" }, fmtUSD(r.cost_usd)));
}

// addRecord shows r at the top of the log when the filter selects it.
function addRecord(r, fresh) {
  addOption($("#f-provider"), live.providers, r.provider);
  addOption($("#f-client"), live.clients, r.client);
  if (live.rows.has(r.id) || !matches(r, filter())) return;
  const tbody = $("#log tbody");
  const tr = rowFor(r);
  if (fresh) tr.classList.add("fresh");
  // Newest first, by id: a record from the feed may race the initial load.
  let before = null;
  for (const other of tbody.children) {
    if (Number(other.dataset.id) < r.id) { before = other; break; }
  }
  tbody.insertBefore(tr, before);
  live.rows.set(r.id, tr);
  while (tbody.children.length > maxRows) {
    const last = tbody.lastElementChild;
    live.rows.delete(Number(last.dataset.id));
    last.remove();
  }
  $("#log-empty").hidden = tbody.children.length > 0;
}

async function loadLog() {
  const f = filter();
  const q = new URLSearchParams({ limit: "200" });
  if (f.side) q.set("side", f.side);
  if (f.provider) q.set("provider", f.provider);
  if (f.client) q.set("client", f.client);
  if (f.errors) q.set("errors", "1");
  const gen = ++live.gen;
  try {
    const body = await getJSON("/ui/api/records?" + q);
    if (gen !== live.gen) return; // a newer filter won
    live.rows.clear();
    $("#log tbody").replaceChildren();
    for (const r of body.records) addRecord(r, false);
    $("#log-empty").hidden = body.records.length > 0;
    $("#older").hidden = body.records.length < 200;
    document.body.dataset.logLoaded = String(gen);
  } catch (e) { showError(e); }
}
live.gen = 0;

// loadOlder appends the page of records before the oldest row shown.
async function loadOlder() {
  const f = filter();
  const ids = [...live.rows.keys()];
  if (!ids.length) return;
  const q = new URLSearchParams({ limit: "200", before: String(Math.min(...ids)) });
  if (f.side) q.set("side", f.side);
  if (f.provider) q.set("provider", f.provider);
  if (f.client) q.set("client", f.client);
  if (f.errors) q.set("errors", "1");
  try {
    const body = await getJSON("/ui/api/records?" + q);
    const tbody = $("#log tbody");
    for (const r of body.records) {
      if (live.rows.has(r.id) || tbody.children.length >= maxRows) continue;
      const tr = rowFor(r);
      tbody.append(tr);
      live.rows.set(r.id, tr);
    }
    $("#older").hidden = body.records.length < 200 || tbody.children.length >= maxRows;
  } catch (e) { showError(e); }
}

async function loadFilterOptions() {
  try {
    const u = await getJSON("/ui/api/usage?range=30d");
    for (const b of u.by_provider) addOption($("#f-provider"), live.providers, b.key);
    for (const b of u.by_client) addOption($("#f-client"), live.clients, b.key);
  } catch (e) { /* the log shows the error */ }
}

function connectFeed() {
  const badge = $("#feed");
  const es = new EventSource("/ui/api/events");
  es.onopen = () => { badge.textContent = "live"; badge.className = "feed on"; loadLog(); };
  es.onerror = () => {
    badge.className = "feed off";
    // A refused feed is not retried by the browser: show what the log says.
    if (es.readyState === EventSource.CLOSED) { badge.textContent = "offline"; loadLog(); } else badge.textContent = "reconnecting";
  };
  es.addEventListener("record", (ev) => {
    try { addRecord(JSON.parse(ev.data), true); } catch (e) { showError(e); }
    // The open summary follows new records, at most once a second.
    const tab = document.body.dataset.tab;
    if ((tab === "usage" || tab === "health") && !live.refresh) {
      live.refresh = setTimeout(() => { live.refresh = null; tab === "usage" ? loadUsage() : loadHealth(); }, 1000);
    }
  });
}

async function showDetail(id) {
  for (const tr of live.rows.values()) tr.classList.toggle("sel", Number(tr.dataset.id) === id);
  try {
    const r = await getJSON("/ui/api/records/" + id);
    $("#detail-id").textContent = "#" + r.id;
    const fields = [
      ["Time", new Date(r.time).toLocaleString()], ["Front door", r.door], ["Path", r.path],
      ["Client", r.client || "—"], ["Session", r.session || "—"], ["Side", r.side || "—"],
      ["Provider", r.provider || "—"], ["Model", r.model || "—"], ["Reason", r.reason || "—"],
      ["Status", String(r.status)], ["Stream", r.stream ? "yes" : "no"], ["Fallback", r.fallback ? "yes" : "no"],
      ["Latency", fmtMS(r.latency_ms)], ["Time to first byte", r.ttfb_ms ? fmtMS(r.ttfb_ms) : "—"],
      ["Input tokens", String(r.input_tokens)], ["Output tokens", String(r.output_tokens)],
      ["Tokens counted", r.estimated ? "estimated by LocalRouter" : "reported by the upstream"],
      ["Cost (estimate)", fmtUSD(r.cost_usd)], ["Saved (estimate)", fmtUSD(r.saved_usd)],
    ];
    if (r.remote_model) fields.push(["Saved priced at", (r.remote_provider ? r.remote_provider + "/" : "") + r.remote_model]);
    if (r.error) fields.push(["Error", r.error]);
    $("#detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
    $("#detail").hidden = false;
  } catch (e) { showError(e); }
}

// ---- Charts (SVG) ----
// barChart draws one group of bars per x label; series are stacked
// (stack true) or side by side. Each rect carries data-series and data-x.
function barChart(box, labels, series, opts) {
  // Drawn at the box's own width, so that text is never stretched.
  const W = Math.max(320, Math.round(box.clientWidth || 640)), H = 200, L = 56, R = 8, T = 8, B = 22;
  const stack = !!(opts && opts.stack);
  const fmt = (opts && opts.fmt) || fmtInt;
  const label = (opts && opts.label) || ((d) => d.slice(5)); // a day: MM-DD
  const totals = labels.map((_, i) => stack ? series.reduce((s, se) => s + (se.values[i] || 0), 0)
    : Math.max(0, ...series.map((se) => se.values[i] || 0)));
  const max = Math.max(...totals, 0) || 1;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  const y = (v) => T + (H - T - B) * (1 - v / max);
  // Counts get whole-number ticks only.
  const ticks = fmt === fmtInt && max < 2 ? [0, 1] : [0, 0.5, 1];
  for (const f of ticks) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
    const t = svg("text", { x: L - 4, y: y(max * f) + 3, "text-anchor": "end" });
    t.textContent = fmt(max * f);
    root.append(t);
  }
  const slot = (W - L - R) / Math.max(labels.length, 1);
  const bw = Math.max(2, slot * 0.7);
  labels.forEach((lab, i) => {
    const x0 = L + slot * i + (slot - bw) / 2;
    let base = 0;
    series.forEach((se, j) => {
      const v = se.values[i] || 0;
      if (v <= 0) return;
      const w = stack ? bw : bw / series.length;
      const x = stack ? x0 : x0 + w * j;
      const top = stack ? base + v : v;
      const rect = svg("rect", { x: x.toFixed(1), y: y(top).toFixed(1), width: w.toFixed(1),
        height: Math.max(1, y(stack ? base : 0) - y(top)).toFixed(1), class: "bar bar-" + se.cls,
        "data-series": se.name, "data-x": lab, "data-value": String(v) });
      const tip = svg("title");
      tip.textContent = `${lab} ${se.name}: ${fmt(v)}`;
      rect.append(tip);
      root.append(rect);
      if (stack) base += v;
    });
    const every = Math.ceil(labels.length / 10);
    if (i % every === 0 || i === labels.length - 1) {
      const t = svg("text", { x: (L + slot * i + slot / 2).toFixed(1), y: H - 6, "text-anchor": "middle" });
      t.textContent = label(lab);
      root.append(t);
    }
  });
  box.replaceChildren(root);
}

// perDay sums buckets (by day, split by side) into one value per day.
function perDay(days, buckets, pick) {
  const at = new Map(days.map((d, i) => [d, i]));
  const out = days.map(() => 0);
  for (const b of buckets) {
    const i = at.get(b.key);
    if (i !== undefined) out[i] += pick(b) || 0;
  }
  return out;
}

// ---- Usage ----
let usageRange = "7d";

function card(k, v, s, id) {
  return el("div", { class: "card", "data-card": id }, el("div", { class: "k" }, k), el("div", { class: "v" }, v),
    s ? el("div", { class: "s" }, s) : null);
}

function sumTable(table, buckets, keyName) {
  const rows = new Map();
  for (const b of buckets) {
    const key = b.key || "(none)";
    const r = rows.get(key) || { key, side: new Set(), requests: 0, input: 0, output: 0, cost: 0, saved: 0 };
    if (b.side) r.side.add(b.side);
    r.requests += b.requests; r.input += b.input_tokens; r.output += b.output_tokens;
    r.cost += b.cost_usd; r.saved += b.saved_usd;
    rows.set(key, r);
  }
  const sorted = [...rows.values()].sort((a, b) => (b.input + b.output) - (a.input + a.output));
  table.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, keyName), el("th", {}, "Side"), el("th", { class: "num" }, "Requests"),
      el("th", { class: "num" }, "Tokens in"), el("th", { class: "num" }, "Tokens out"),
      el("th", { class: "num" }, "Cost ≈"), el("th", { class: "num" }, "Saved ≈"))),
    el("tbody", {}, ...sorted.map((r) => el("tr", { "data-key": r.key },
      el("td", {}, r.key), el("td", {}, [...r.side].sort().join(", ")), el("td", { class: "num" }, fmtInt(r.requests)),
      el("td", { class: "num" }, fmtInt(r.input)), el("td", { class: "num" }, fmtInt(r.output)),
      el("td", { class: "num" }, fmtUSD(r.cost)), el("td", { class: "num" }, fmtUSD(r.saved))))));
}

async function loadUsage() {
  for (const b of document.querySelectorAll("[data-range]")) b.classList.toggle("on", b.dataset.range === usageRange);
  try {
    const u = await getJSON("/ui/api/usage?range=" + usageRange);
    const t = u.totals;
    const share = t.requests ? Math.round(100 * t.local_requests / t.requests) + "%" : "—";
    $("#cards").replaceChildren(
      card("Requests", fmtInt(t.requests), `${plural(t.errors, "error")} · ${plural(t.fallbacks, "fallback")}`, "requests"),
      card("Tokens", fmtInt(t.input_tokens + t.output_tokens), `${fmtInt(t.input_tokens)} in · ${fmtInt(t.output_tokens)} out`, "tokens"),
      card("Local", share, `${fmtInt(t.local_requests)} of ${fmtInt(t.requests)} requests`, "local"),
      card("Cost ≈", fmtUSD(t.cost_usd), "estimate", "cost"),
      card("Saved ≈", fmtUSD(t.saved_usd), "estimate, by running locally", "saved"));
    const side = (s) => u.by_day.filter((b) => b.side === s);
    const tok = (b) => b.input_tokens + b.output_tokens;
    barChart($("#chart-tokens"), u.days, [
      { name: "local", cls: "local", values: perDay(u.days, side("local"), tok) },
      { name: "remote", cls: "remote", values: perDay(u.days, side("remote"), tok) },
    ], { stack: true });
    barChart($("#chart-cost"), u.days, [
      { name: "spent", cls: "remote", values: perDay(u.days, u.by_day, (b) => b.cost_usd) },
      { name: "saved", cls: "saved", values: perDay(u.days, u.by_day, (b) => b.saved_usd) },
    ], { fmt: fmtUSD });
    const models = [...new Set(u.by_model.map((b) => b.key || "(none)"))];
    const byModel = (s) => models.map((m) => u.by_model.filter((b) => (b.key || "(none)") === m && b.side === s)
      .reduce((n, b) => n + b.input_tokens + b.output_tokens, 0));
    barChart($("#chart-models"), models, [
      { name: "local", cls: "local", values: byModel("local") },
      { name: "remote", cls: "remote", values: byModel("remote") },
    ], { stack: true, label: (m) => m.length > 18 ? m.slice(0, 17) + "…" : m });
    sumTable($("#by-provider"), u.by_provider, "Provider");
    sumTable($("#by-model"), u.by_model, "Model");
    sumTable($("#by-client"), u.by_client, "Client");
    document.body.dataset.usageLoaded = usageRange;
  } catch (e) { showError(e); }
}

// ---- Health ----
// usageCard says whether records are kept, and why not.
function usageCard(u) {
  if (!u || !u.enabled) return card("Usage records", "off", "usage.enabled is false", "usage");
  if (u.error) return card("Usage records", "failing", u.error, "usage");
  const notes = [u.notice, u.dropped ? plural(u.dropped, "record") + " lost" : "", u.path].filter(Boolean);
  return card("Usage records", "kept", notes.join(" · "), "usage");
}

async function loadHealth() {
  try {
    // Health needs no usage records: without them it has no chart.
    const [s, u] = await Promise.all([getJSON("/ui/api/status"), getJSON("/ui/api/usage?range=30d").catch(() => null)]);
    const [route, why] = (s.route || "none").split(/ \((.*)\)$/);
    $("#health-cards").replaceChildren(
      card("Route now, for model auto", route, why || "", "route"),
      card("Side", s.side, s.override === "auto" ? "following the strategy" : "forced " + s.override, "side"),
      card("Local side", s.local_up ? (s.local_degraded ? "degraded" : "up") : "down", s.private ? "Local only is on" : "", "local"),
      card("Mock mode", s.mock ? "on" : "off", s.mock_reason || "", "mock"),
      usageCard(s.usage));
    const st = s.strategy || {};
    const kv = [["Source", st.source + (st.stale ? " (stale)" : "")], ["Strategy", st.strategy], ["Local model", st.local_model],
      ["Remote model", st.remote_model], ["Rules", String(st.rules || 0)]];
    if (st.url) kv.push(["URL", st.url]);
    if (st.updated_at) kv.push(["Updated", st.updated_at]);
    if (st.fetched_at) kv.push(["Fetched", new Date(st.fetched_at).toLocaleString()]);
    if (st.error) kv.push(["Error", st.error]);
    if (s.last_fallback) kv.push(["Last fallback", `${s.last_fallback.from} → ${s.last_fallback.to}`]);
    if (s.config_error) kv.push(["Config", s.config_error]);
    $("#strategy").replaceChildren(...kv.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v || "—")]));
    const rows = [];
    for (const b of s.backends) {
      if (!b.models.length) rows.push(el("tr", {}, el("td", {}, b.provider), el("td", {}, "no model reported"), el("td", {})));
      for (const m of b.models) {
        rows.push(el("tr", { "data-backend": b.provider, "data-model": m.name }, el("td", {}, b.provider), el("td", {}, m.name),
          el("td", { class: "num" }, m.context_window ? fmtInt(m.context_window) + " tokens" : "unknown")));
      }
    }
    $("#backends").replaceChildren(
      el("thead", {}, el("tr", {}, el("th", {}, "Provider"), el("th", {}, "Model"), el("th", { class: "num" }, "Context window"))),
      el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "3" }, "No local provider is configured."))])));
    if (u) {
      barChart($("#chart-health"), u.days, [
        { name: "errors", cls: "err", values: perDay(u.days, u.by_day, (b) => b.errors) },
        { name: "fallbacks", cls: "fb", values: perDay(u.days, u.by_day, (b) => b.fallbacks) },
      ]);
    } else {
      $("#chart-health").replaceChildren(el("p", { class: "empty" }, "No usage records: nothing to chart."));
    }
    document.body.dataset.healthLoaded = "1";
  } catch (e) { showError(e); }
}

// ---- Wiring ----
document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["#f-side", "#f-provider", "#f-client", "#f-status"]) $(id).addEventListener("change", loadLog);
  $("#log tbody").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-id]");
    if (tr) showDetail(Number(tr.dataset.id));
  });
  $("#log tbody").addEventListener("keydown", (ev) => {
    const tr = ev.target.closest("tr[data-id]");
    if (tr && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); showDetail(Number(tr.dataset.id)); }
  });
  $("#detail-close").addEventListener("click", () => { $("#detail").hidden = true; });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") $("#detail").hidden = true; });
  $("#older").addEventListener("click", loadOlder);
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => { usageRange = b.dataset.range; loadUsage(); });
  }
  window.addEventListener("hashchange", showTab);
  showTab();
  loadFilterOptions();
  connectFeed();
});
