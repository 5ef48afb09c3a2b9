// tandem agent console: the Insights page for admins (console/index.html, section#insights).
// Plain ES2020, no framework, no build step, no chart library: the charts are SVG drawn here.
// Loaded before console.js, which shows the page only to admins and calls the hooks exported
// as window.tandemInsights: configure({signedOut}), show(), hide(), reset().
// Reads GET /api/analytics, /api/analytics/unanswered and /api/knowledge/status; POSTs
// /api/knowledge/reload. Dates are whole days in UTC, both ends included.
// SECURITY: everything the server sends (questions, examples, problems, names) is inserted as
// text nodes only (see `el` and `svg`); there is no innerHTML anywhere in this file.
(() => {
  "use strict";

  const root = document.getElementById("insights");
  if (!root) return;

  const SVGNS = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;
  const MAX_DAYS = 366;
  const DASH = "—";

  const S = {
    built: false,
    gen: 0,                // bumped by reset (sign-out): late answers for the old page are dropped
    ctrl: null,            // AbortController of the analytics + unanswered requests in flight
    kctrl: null,           // ... of the knowledge status request
    timer: 0,              // debounce of the date inputs
    reloading: false,
    signedOut: null,       // console.js: shows the sign-in form (401)
  };
  const ui = {};

  // ---- DOM helpers: text only through text nodes ---------------------------------------------
  // Same rules as console.js's `el`: no URL-bearing, style or inline-handler attributes.
  const REFUSED = /^(on|href$|src$|srcdoc$|style$|formaction$|action$|xlink:href$)/i;
  function build(node, attrs, children) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (typeof v === "function" && k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (REFUSED.test(k)) throw new Error("el: refused attribute " + k);
      else if (k === "class") node.setAttribute("class", String(v));
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) => build(document.createElementNS(SVGNS, tag), attrs, children);
  const show = (node, on) => { node.hidden = !on; };
  // replaceChildren with el's rules: arrays flattened, null and false left out.
  const fill = (node, ...children) => node.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));

  // ---- Values: null (no data) shows as a dash --------------------------------------------------
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const int = (v) => Math.max(0, Math.round(num(v) ?? 0));
  const arr = (v) => (Array.isArray(v) ? v : []);
  const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
  const count = (v) => (num(v) === null ? DASH : String(Math.round(v)));
  const pct = (v) => (num(v) === null ? DASH : Math.round(v * 100) + " %");
  const share = (part, whole) => (whole > 0 ? Math.round((part / whole) * 100) + " %" : DASH);
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many || one + "s");
  const label = (s) => String(s ?? "").replace(/_/g, " ");
  const human = (s) => { const t = label(s).trim(); return t ? t[0].toUpperCase() + t.slice(1) : "Unknown"; };
  const r2 = (x) => Math.round(x * 100) / 100; // SVG coordinates, kept short
  // 42 s, 3 min 10 s, 1 h 5 min, 2 d 3 h.
  function duration(v) {
    const x = num(v);
    if (x === null) return DASH;
    const s = Math.round(Math.max(0, x));
    if (s < 60) return (s === 0 && x > 0 ? "< 1" : String(s)) + " s";
    if (s < 3600) { const m = Math.floor(s / 60), r = s % 60; return m + " min" + (r ? " " + r + " s" : ""); }
    const mins = Math.round(s / 60);
    if (mins < 1440) { const h = Math.floor(mins / 60), m = mins % 60; return h + " h" + (m ? " " + m + " min" : ""); }
    const hours = Math.round(s / 3600), d = Math.floor(hours / 24), h = hours % 24;
    return d + " d" + (h ? " " + h + " h" : "");
  }

  // ---- Dates: YYYY-MM-DD, UTC ------------------------------------------------------------------
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const todayUtc = () => isoDay(Date.now());
  function dayMs(s) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(String(s))) return NaN;
    const ms = Date.UTC(Number(s.slice(0, 4)), Number(s.slice(5, 7)) - 1, Number(s.slice(8, 10)));
    return isoDay(ms) === s ? ms : NaN; // 2026-02-31 is not a day
  }
  const addDays = (s, n) => isoDay(dayMs(s) + n * DAY_MS);
  const daysBetween = (a, b) => Math.round((dayMs(b) - dayMs(a)) / DAY_MS) + 1; // inclusive
  function fmt(opts) {
    let f = null;
    try { f = new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: "UTC" }, opts)); } catch (_) { /* old browser */ }
    return (s) => { const ms = dayMs(s); return Number.isNaN(ms) ? String(s ?? "") : f ? f.format(new Date(ms)) : s; };
  }
  const shortDay = fmt({ month: "short", day: "numeric" });
  const longDay = fmt({ weekday: "short", year: "numeric", month: "short", day: "numeric" });
  const dateTime = (ms) => (num(ms) ? new Date(ms).toLocaleString() : DASH);
  const clockNow = () => new Date().toLocaleTimeString();

  // ---- HTTP ------------------------------------------------------------------------------------
  async function request(method, path, signal) {
    const res = await fetch(path, { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal });
    let data = null;
    if (res.status !== 204) { try { data = await res.json(); } catch (_) { data = null; } }
    return { status: res.status, ok: res.ok, data };
  }
  // A message for a failed answer; 401 hands over to the console's sign-in (and returns null).
  function failure(r) {
    if (r.status === 401) {
      if (S.signedOut) { S.signedOut(); return null; }
      return "Your session has ended. Please sign in again.";
    }
    if (r.status === 403) return "Insights are for admins only.";
    const m = r.data && typeof r.data.message === "string" ? r.data.message : "";
    return m || "Request failed (HTTP " + r.status + ")";
  }
  const aborted = (e) => e && e.name === "AbortError";

  // ---- The page skeleton (built on first show) -------------------------------------------------
  const KPIS = [
    ["conversations", "Conversations"],
    ["containment", "Containment", "Conversations the bot handled without an agent"],
    ["handoff", "Handoff rate", "Conversations handed to an agent"],
    ["helpfulness", "Answer helpfulness", "Helpful votes among the votes on bot answers"],
    ["wait", "Queue wait", "Time customers waited for an agent: average · 90th percentile"],
    ["first-response", "First agent response", "From the handoff to the agent's first reply: average · 90th percentile"],
    ["handling", "Handling time", "From the claim to the end: average · 90th percentile"],
    ["csat", "CSAT", "Customer ratings, 1 to 5"],
    ["breaches", "SLA breaches", "Missed first-response and resolution targets"],
  ];

  function panel(title, cls, ...body) {
    return el("section", { class: "ins-panel" + (cls ? " " + cls : "") }, el("h2", {}, title), body);
  }
  function table(testid, caption, heads) {
    const tbody = el("tbody");
    const t = el("table", { class: "ins-table", "data-testid": testid },
      el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, heads.map(([h, cls]) => el("th", { scope: "col", class: cls || null }, h)))),
      tbody);
    return { t, tbody };
  }

  function buildPage() {
    ui.from = el("input", { type: "date", id: "range-from", required: true, "data-testid": "range-from" });
    ui.to = el("input", { type: "date", id: "range-to", required: true, "data-testid": "range-to" });
    for (const i of [ui.from, ui.to]) { i.addEventListener("change", scheduleLoad); i.addEventListener("input", scheduleLoad); }
    ui.quick = [7, 30, 90].map((n) => el("button", { type: "button", "aria-pressed": "false", "data-days": String(n), "data-testid": "range-" + n + "d",
      title: "The last " + n + " days, today included", onclick: () => setRange(addDays(todayUtc(), -(n - 1)), todayUtc()) }, n + "d"));
    ui.refresh = el("button", { type: "button", "data-testid": "insights-refresh", onclick: () => loadAll() }, "Refresh");
    ui.status = el("p", { class: "ins-status", role: "status", "data-testid": "insights-status" });
    ui.error = el("p", { class: "ins-error", role: "alert", "data-testid": "insights-error", hidden: true });

    ui.kpi = {};
    const cards = KPIS.map(([key, name, help]) => {
      const value = el("p", { class: "kpi-value", "data-testid": "kpi-" + key }, DASH);
      const note = el("p", { class: "kpi-note" });
      ui.kpi[key] = { value, note };
      return el("li", { class: "kpi", title: help || null }, el("h3", { class: "kpi-label" }, name), value, note);
    });

    ui.days = el("div", { class: "chart-wrap" });
    ui.daysTable = el("tbody");
    ui.reasons = el("div", { class: "chart-wrap" });
    ui.csat = el("div", { class: "chart-wrap" });
    ui.hours = el("div", { class: "chart-wrap" });
    const faqs = table("top-faqs", "Top FAQ entries", [["Question"], ["Answers", "num"], ["Helpful", "num"], ["Unhelpful", "num"]]);
    const intents = table("top-intents", "Top intents", [["Intent"], ["Messages", "num"]]);
    const unanswered = table("unanswered", "Unanswered questions, grouped", [["Count", "num"], ["Example"], ["Reasons"], ["More examples"]]);
    ui.faqs = faqs.tbody; ui.intents = intents.tbody; ui.unanswered = unanswered.tbody;
    ui.unansweredNote = el("p", { class: "empty", hidden: true });
    ui.csv = el("a", { class: "ins-csv", download: "unanswered.csv", "data-testid": "export-csv" }, "Export CSV");

    ui.reload = el("button", { type: "button", class: "primary", "data-testid": "reload", onclick: reload }, "Reload now");
    ui.kBody = el("div", { class: "kn-body", "aria-live": "polite" });
    ui.kNote = el("p", { class: "kn-note", role: "status", "data-testid": "reload-result" });

    root.replaceChildren(
      el("header", { class: "ins-head" },
        el("h1", { id: "insights-title" }, "Insights"),
        el("div", { class: "ins-range", role: "group", "aria-label": "Date range, in UTC, both days included" },
          el("label", { for: "range-from" }, "From"), ui.from,
          el("label", { for: "range-to" }, "To"), ui.to,
          el("span", { class: "ins-quick", role: "group", "aria-label": "Quick ranges" }, ui.quick),
          el("span", { class: "muted" }, "UTC"), ui.refresh),
        ui.status),
      ui.error,
      el("ul", { class: "kpis", "aria-label": "Key figures" }, cards),
      el("div", { class: "ins-grid" },
        panel("Conversations per day", "ins-wide",
          el("p", { class: "legend", "aria-hidden": "true" },
            el("span", { class: "key key-bar" }), "Conversations (left axis)",
            el("span", { class: "key key-line" }), "Containment rate (right axis, 0–100 %)"),
          ui.days,
          el("details", { class: "chart-table" }, el("summary", {}, "Show as a table"),
            el("table", { class: "ins-table" },
              el("thead", {}, el("tr", {}, ["Day", "Conversations", "Contained", "Containment", "Handoffs", "CSAT", "Avg wait"].map((h, i) =>
                el("th", { scope: "col", class: i ? "num" : null }, h)))),
              ui.daysTable))),
        panel("Handoff reasons", null, ui.reasons),
        panel("CSAT distribution", null, ui.csat),
        panel("Busiest hours (UTC, messages)", "ins-wide", ui.hours),
        panel("Top FAQ entries", null, faqs.t),
        panel("Top intents", null, intents.t),
        el("section", { class: "ins-panel ins-wide" },
          el("div", { class: "panel-head" }, el("h2", {}, "Unanswered questions"), el("span", { class: "spacer" }), ui.csv),
          unanswered.t, ui.unansweredNote),
        el("section", { class: "ins-panel ins-wide", "data-testid": "knowledge-status", "aria-labelledby": "kn-title" },
          el("div", { class: "panel-head" }, el("h2", { id: "kn-title" }, "Knowledge"), el("span", { class: "spacer" }), ui.kNote, ui.reload),
          ui.kBody)));
    S.built = true;
  }

  // ---- Range -----------------------------------------------------------------------------------
  function rangeProblem(from, to) {
    if (!from || !to) return "Choose a start and an end date.";
    if (Number.isNaN(dayMs(from)) || Number.isNaN(dayMs(to))) return "Dates must be real days (YYYY-MM-DD).";
    if (from > to) return "The start date is after the end date.";
    if (daysBetween(from, to) > MAX_DAYS) return "Choose at most " + MAX_DAYS + " days.";
    return "";
  }
  function setRange(from, to) {
    ui.from.value = from;
    ui.to.value = to;
    loadAll();
  }
  function scheduleLoad() {
    clearTimeout(S.timer);
    S.timer = setTimeout(loadAll, 300); // typing a year digit by digit fires one change per digit
  }
  function paintRange() {
    const from = ui.from.value, to = ui.to.value, today = todayUtc();
    for (const b of ui.quick) {
      const n = Number(b.getAttribute("data-days"));
      b.setAttribute("aria-pressed", to === today && from === addDays(today, -(n - 1)) ? "true" : "false");
    }
    ui.from.max = to || "";
    ui.to.min = from || "";
  }
  const rangeQuery = (from, to) => "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);

  function showError(message) {
    ui.error.textContent = message || "";
    show(ui.error, !!message);
  }
  function busy(on) {
    if (on) root.setAttribute("aria-busy", "true"); else root.removeAttribute("aria-busy");
  }

  // ---- Loading ---------------------------------------------------------------------------------
  async function loadAll() {
    clearTimeout(S.timer);
    if (!S.built) return;
    paintRange();
    const from = ui.from.value, to = ui.to.value;
    const bad = rangeProblem(from, to);
    if (bad) { showError(bad); return; }
    showError("");
    ui.csv.href = "/api/analytics/unanswered.csv" + rangeQuery(from, to);
    ui.csv.download = "unanswered-" + from + "-to-" + to + ".csv";
    if (S.ctrl) S.ctrl.abort();
    const ctrl = new AbortController();
    S.ctrl = ctrl;
    busy(true);
    ui.status.textContent = "Loading…";
    const q = rangeQuery(from, to);
    const current = () => S.ctrl === ctrl;

    const analytics = request("GET", "/api/analytics" + q, ctrl.signal).then((r) => {
      if (!current()) return;
      if (r.ok && r.data && typeof r.data === "object") { renderAnalytics(r.data); return; }
      const m = failure(r);
      if (m) showError(m);
    }, (e) => { if (current() && !aborted(e)) showError("Cannot reach the server."); });

    const unanswered = request("GET", "/api/analytics/unanswered" + q, ctrl.signal).then((r) => {
      if (!current()) return;
      if (r.ok && r.data && typeof r.data === "object") { renderUnanswered(arr(r.data.clusters)); return; }
      const m = failure(r);
      if (m) unansweredMessage("Could not load unanswered questions: " + m);
    }, (e) => { if (current() && !aborted(e)) unansweredMessage("Could not load unanswered questions: cannot reach the server."); });

    await Promise.all([analytics, unanswered]);
    if (!current()) return;
    S.ctrl = null;
    busy(false);
    ui.status.textContent = "Updated " + clockNow() + " · " + longDay(from) + (from === to ? "" : " – " + longDay(to)) +
      " (" + plural(daysBetween(from, to), "day") + ", UTC)";
  }

  async function loadKnowledge() {
    if (S.kctrl) S.kctrl.abort();
    const ctrl = new AbortController();
    S.kctrl = ctrl;
    let r;
    try { r = await request("GET", "/api/knowledge/status", ctrl.signal); } catch (e) {
      if (S.kctrl === ctrl && !aborted(e)) knowledgeMessage("Cannot reach the server.");
      return;
    }
    if (S.kctrl !== ctrl) return;
    S.kctrl = null;
    if (r.ok && r.data && typeof r.data === "object") renderKnowledge(r.data);
    else { const m = failure(r); if (m) knowledgeMessage(m); }
  }

  async function reload() {
    if (S.reloading || !S.built) return;
    S.reloading = true;
    const gen = S.gen, button = ui.reload, note = ui.kNote;
    const say = (text, cls) => { if (S.gen === gen) { note.textContent = text; note.className = "kn-note" + (cls ? " " + cls : ""); } };
    if (S.kctrl) { S.kctrl.abort(); S.kctrl = null; }
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Reloading…";
    say("");
    try {
      const r = await request("POST", "/api/knowledge/reload");
      if (S.gen !== gen) return; // signed out meanwhile
      if ((r.ok || r.status === 422) && r.data && typeof r.data === "object" && typeof r.data.status === "string") {
        renderKnowledge(r.data);
        const ok = r.ok && r.data.status !== "error";
        say(ok ? "Reloaded at " + clockNow() + "." : "Reload rejected; the previous knowledge still serves.", ok ? "good" : "bad");
      } else {
        const m = failure(r);
        if (m) say("Reload failed: " + m, "bad");
      }
    } catch (_) {
      say("Reload failed: cannot reach the server.", "bad");
    } finally {
      if (S.gen === gen) S.reloading = false;
      button.removeAttribute("aria-disabled");
      button.textContent = "Reload now";
    }
  }

  // ---- KPI cards -------------------------------------------------------------------------------
  // The card's value element holds the main figure and, after " · ", its companion (p90, count),
  // shown on a line of its own; its text reads "43 s · p90 2 min".
  function setKpi(key, main, extra, note) {
    const k = ui.kpi[key];
    fill(k.value, el("span", { class: "kpi-main" }, main),
      extra && main !== DASH ? [el("span", { class: "kpi-sep" }, " · "), el("span", { class: "kpi-extra" }, extra)] : null);
    k.value.classList.toggle("none", main === DASH);
    k.note.textContent = note || "";
  }
  function timing(key, t, what) {
    const avg = num(t.avg), p90 = num(t.p90), n = int(t.count);
    const main = avg !== null ? duration(avg) : p90 !== null ? "p90 " + duration(p90) : DASH;
    setKpi(key, main, avg !== null && p90 !== null ? "p90 " + duration(p90) : null, n ? plural(n, what) : "No data");
  }

  function renderKpis(t, days) {
    const conv = num(t.conversations);
    setKpi("conversations", count(conv), null, conv !== null && days > 0 ? (Math.round((conv / days) * 10) / 10) + " per day" : "");
    setKpi("containment", pct(t.containment_rate), null, num(t.contained) !== null && num(t.containment_rate) !== null ? count(t.contained) + " without an agent" : "");
    setKpi("handoff", pct(t.handoff_rate), null, num(t.handoffs) !== null && num(t.handoff_rate) !== null ? plural(int(t.handoffs), "handoff") : "");
    const votes = int(t.helpful) + int(t.unhelpful);
    setKpi("helpfulness", pct(t.helpfulness), null,
      votes ? int(t.helpful) + " helpful, " + int(t.unhelpful) + " not · " + plural(int(t.answers), "answer")
        : num(t.answers) !== null ? plural(int(t.answers), "answer") + ", no votes" : "");
    timing("wait", obj(t.queue_wait_secs), "wait");
    timing("first-response", obj(t.first_response_secs), "conversation");
    timing("handling", obj(t.handling_secs), "conversation");
    const csat = obj(t.csat), avg = num(csat.avg), n = int(csat.count);
    setKpi("csat", avg === null ? DASH : avg.toFixed(1) + " / 5", plural(n, "rating"), avg === null ? "No ratings" : "");
    const b = t.sla_breaches && typeof t.sla_breaches === "object" ? t.sla_breaches : null;
    const fr = b ? int(b.first_response) : 0, res = b ? int(b.resolution) : 0;
    setKpi("breaches", b ? String(fr + res) : DASH, null, b ? fr + " first response · " + res + " resolution" : "");
    ui.kpi.breaches.value.classList.toggle("bad", fr + res > 0);
  }

  // ---- Charts ----------------------------------------------------------------------------------
  // Axis from 0 to a round number above `max`, about four steps, whole numbers.
  function niceScale(max) {
    if (!(max > 0)) return { top: 1, step: 1 };
    const raw = max / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw));
    return { top: Math.ceil(max / step) * step, step };
  }
  function chart(testid, w, h, summary) {
    return svg("svg", { class: "chart", viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img",
      "aria-label": summary, preserveAspectRatio: "xMinYMin meet", "data-testid": testid });
  }
  function yAxis(s, { L, T, pw, ph, top, step }) {
    for (let v = 0; v <= top; v += step) {
      const y = r2(T + ph - (v / top) * ph);
      s.appendChild(svg("line", { class: "grid" + (v === 0 ? " base" : ""), x1: L, x2: L + pw, y1: y, y2: y }));
      s.appendChild(svg("text", { class: "axis", x: L - 6, y: y + 4, "text-anchor": "end" }, String(v)));
    }
  }

  // Conversations per day as bars, the containment rate as a line on a 0–100 % axis. One <rect>
  // per day (and no other rect in the chart); each day's group carries its tooltip.
  function daysChart(days) {
    const W = 1000, H = 260, L = 40, R = 48, T = 12, B = 30, pw = W - L - R, ph = H - T - B;
    const n = days.length;
    const counts = days.map((d) => int(d.conversations));
    const total = counts.reduce((a, b) => a + b, 0);
    const max = counts.reduce((a, b) => Math.max(a, b), 0);
    const peak = counts.indexOf(max);
    const { top, step } = niceScale(max);
    const summary = n ? "Conversations per day, " + shortDay(days[0].date) + " to " + shortDay(days[n - 1].date) + ": " +
      plural(total, "conversation") + (max ? ", most on " + shortDay(days[peak].date) + " (" + max + ")" : "") + "." : "No days.";
    const s = chart("chart-days", W, H, summary);
    yAxis(s, { L, T, pw, ph, top, step });
    for (const p of [0, 0.5, 1]) {
      s.appendChild(svg("text", { class: "axis axis-rate", x: L + pw + 6, y: r2(T + ph - p * ph + 4) }, Math.round(p * 100) + " %"));
    }
    if (!max) s.appendChild(svg("text", { class: "empty-text", x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle" }, n ? "No conversations in this range." : "No days."));
    if (!n) return s;
    const slot = pw / n, bw = Math.max(0.6, Math.min(slot * 0.72, 40));
    const every = Math.ceil(n / 8);
    const line = [];
    days.forEach((d, i) => {
      const c = counts[i], x0 = L + i * slot, cx = x0 + slot / 2;
      const bh = (c / top) * ph;
      const rate = num(d.containment_rate);
      const tip = [longDay(d.date) + ": " + plural(c, "conversation")];
      if (c) tip.push(count(d.contained) + " contained (" + pct(rate) + ")", plural(int(d.handoffs), "handoff"));
      if (num(d.csat_avg) !== null) tip.push("CSAT " + d.csat_avg.toFixed(1));
      if (num(d.queue_wait_avg_secs) !== null) tip.push("avg wait " + duration(d.queue_wait_avg_secs));
      s.appendChild(svg("g", { class: "day" + (c === max && max > 0 ? " peak" : "") },
        svg("title", {}, tip.join(", ")),
        svg("path", { class: "hit", d: "M" + r2(x0) + " " + T + "h" + r2(slot) + "v" + ph + "h" + r2(-slot) + "z" }),
        svg("rect", { class: "bar", x: r2(cx - bw / 2), y: r2(T + ph - bh), width: r2(bw), height: r2(bh),
          "data-testid": "day-bar", "data-date": String(d.date ?? ""), "data-value": c })));
      line.push(rate === null ? null : [r2(cx), r2(T + ph - Math.min(1, Math.max(0, rate)) * ph)]);
      if (i % every === 0) {
        s.appendChild(svg("text", { class: "axis", x: r2(cx), y: T + ph + 18, "text-anchor": "middle" }, shortDay(d.date)));
      }
    });
    // The rate line, broken where a day has no conversations (no rate); lone points as dots.
    let dPath = "";
    line.forEach((p, i) => { if (p) dPath += (i > 0 && line[i - 1] ? "L" : "M") + p[0] + " " + p[1]; });
    if (dPath) s.appendChild(svg("path", { class: "rate-line", d: dPath }));
    line.forEach((p, i) => {
      if (p && (n <= 62 || (!line[i - 1] && !line[i + 1]))) s.appendChild(svg("circle", { class: "rate-dot", cx: p[0], cy: p[1], r: n <= 62 ? 3 : 1.5 }));
    });
    return s;
  }

  function daysRows(days) {
    return days.map((d) => el("tr", {},
      el("th", { scope: "row" }, longDay(d.date)),
      el("td", { class: "num" }, String(int(d.conversations))),
      el("td", { class: "num" }, count(d.contained)),
      el("td", { class: "num" }, pct(d.containment_rate)),
      el("td", { class: "num" }, count(d.handoffs)),
      el("td", { class: "num" }, num(d.csat_avg) === null ? DASH : d.csat_avg.toFixed(1)),
      el("td", { class: "num" }, duration(d.queue_wait_avg_secs))));
  }

  // Handoff reasons as horizontal bars: count and share of all handoffs.
  function reasonsChart(reasons) {
    const rows = reasons.map((r) => ({ reason: String(r.reason ?? ""), count: int(r.count) }))
      .filter((r) => r.count > 0).sort((a, b) => b.count - a.count);
    const total = rows.reduce((a, r) => a + r.count, 0);
    const W = 480, rowH = 26, LBL = 150, VAL = 86, barMax = W - LBL - VAL;
    if (!rows.length) {
      const s = chart("chart-reasons", W, 40, "No handoffs in this range.");
      s.appendChild(svg("text", { class: "empty-text", x: 4, y: 24 }, "No handoffs in this range."));
      return s;
    }
    const max = rows[0].count;
    const s = chart("chart-reasons", W, rows.length * rowH + 4,
      "Handoff reasons: " + rows.map((r) => human(r.reason) + " " + r.count).join(", ") + ".");
    rows.forEach((r, i) => {
      const y = 2 + i * rowH, name = human(r.reason);
      const w = Math.max(1, (r.count / max) * barMax);
      s.appendChild(svg("g", { class: "hbar", "data-reason": r.reason },
        svg("title", {}, name + ": " + r.count + " (" + share(r.count, total) + " of handoffs)"),
        svg("text", { class: "axis label", x: LBL - 8, y: y + 17, "text-anchor": "end" }, name.length > 22 ? name.slice(0, 21) + "…" : name),
        svg("rect", { class: "bar", x: LBL, y: y + 4, width: r2(w), height: rowH - 8 }),
        svg("text", { class: "value", x: r2(LBL + w + 6), y: y + 17 }, r.count + " · " + share(r.count, total))));
    });
    return s;
  }

  // CSAT 1–5: five bars, counts on top.
  function csatChart(distribution) {
    const counts = [0, 1, 2, 3, 4].map((i) => int(distribution[i]));
    const total = counts.reduce((a, b) => a + b, 0), max = Math.max(...counts);
    const W = 320, H = 170, L = 10, T = 18, B = 26, pw = W - 2 * L, ph = H - T - B, slot = pw / 5, bw = slot * 0.6;
    const s = chart("chart-csat", W, H, total ? "Ratings: " + counts.map((c, i) => (i + 1) + " stars " + c).join(", ") + "." : "No ratings in this range.");
    s.appendChild(svg("line", { class: "grid base", x1: L, x2: L + pw, y1: T + ph, y2: T + ph }));
    counts.forEach((c, i) => {
      const bh = max ? (c / max) * ph : 0, cx = L + slot * (i + 0.5);
      s.appendChild(svg("g", { class: "csat-bar" },
        svg("title", {}, "Rated " + (i + 1) + ": " + plural(c, "rating") + " (" + share(c, total) + ")"),
        svg("rect", { class: "bar csat-" + (i + 1), x: r2(cx - bw / 2), y: r2(T + ph - bh), width: r2(bw), height: r2(bh), "data-rating": i + 1, "data-value": c }),
        svg("text", { class: "value", x: r2(cx), y: r2(T + ph - bh - 5), "text-anchor": "middle" }, String(c)),
        svg("text", { class: "axis", x: r2(cx), y: T + ph + 17, "text-anchor": "middle" }, (i + 1) + " ★")));
    });
    if (!total) s.appendChild(svg("text", { class: "empty-text", x: W / 2, y: T + ph / 2, "text-anchor": "middle" }, "No ratings in this range."));
    return s;
  }

  // Messages per hour of day (UTC): 24 bars, the busiest marked.
  function hoursChart(hours) {
    const counts = new Array(24).fill(0);
    for (const h of hours) { const i = num(h && h.hour); if (i !== null && i >= 0 && i < 24) counts[Math.floor(i)] += int(h.messages); }
    const max = Math.max(...counts), total = counts.reduce((a, b) => a + b, 0);
    const W = 1000, H = 180, L = 40, R = 8, T = 10, B = 26, pw = W - L - R, ph = H - T - B, slot = pw / 24, bw = slot * 0.7;
    const { top, step } = niceScale(max);
    const hh = (i) => String(i).padStart(2, "0") + ":00";
    const s = chart("chart-hours", W, H, total ? "Messages by hour of day (UTC); busiest " + hh(counts.indexOf(max)) + " with " + max + "." : "No messages in this range.");
    yAxis(s, { L, T, pw, ph, top, step });
    counts.forEach((c, i) => {
      const bh = (c / top) * ph, x0 = L + i * slot;
      s.appendChild(svg("g", { class: "hour" + (c === max && max > 0 ? " peak" : "") },
        svg("title", {}, hh(i) + "–" + hh((i + 1) % 24) + " UTC: " + plural(c, "message")),
        svg("path", { class: "hit", d: "M" + r2(x0) + " " + T + "h" + r2(slot) + "v" + ph + "h" + r2(-slot) + "z" }),
        svg("rect", { class: "bar", x: r2(x0 + (slot - bw) / 2), y: r2(T + ph - bh), width: r2(bw), height: r2(bh), "data-hour": i, "data-value": c })));
      if (i % 3 === 0) s.appendChild(svg("text", { class: "axis", x: r2(x0 + slot / 2), y: T + ph + 17, "text-anchor": "middle" }, String(i).padStart(2, "0")));
    });
    return s;
  }

  // ---- Rendering -------------------------------------------------------------------------------
  const emptyRow = (cols, text) => el("tr", { class: "empty-row" }, el("td", { colspan: cols, class: "empty" }, text));

  function renderAnalytics(d) {
    const days = arr(d.days).filter((x) => x && typeof x === "object");
    const t = obj(d.totals);
    renderKpis(t, days.length || daysBetween(ui.from.value, ui.to.value));
    ui.days.replaceChildren(daysChart(days));
    ui.daysTable.replaceChildren(...daysRows(days));
    ui.reasons.replaceChildren(reasonsChart(arr(t.handoff_reasons).filter((r) => r && typeof r === "object")));
    ui.csat.replaceChildren(csatChart(arr(obj(t.csat).distribution)));
    ui.hours.replaceChildren(hoursChart(arr(d.busiest_hours)));

    const faqs = arr(d.top_faqs).filter((f) => f && typeof f === "object");
    ui.faqs.replaceChildren(...(faqs.length ? faqs.map((f) => el("tr", { "data-faq-id": String(f.faq_id ?? "") },
      el("td", {}, el("span", { class: "q" }, String(f.question || f.faq_id || "")),
        f.faq_id != null && f.question ? el("span", { class: "id" }, String(f.faq_id)) : null),
      el("td", { class: "num" }, count(f.answers)),
      el("td", { class: "num" }, count(f.helpful)),
      el("td", { class: "num" }, count(f.unhelpful)))) : [emptyRow(4, "No answers in this range.")]));

    const intents = arr(d.top_intents).filter((i) => i && typeof i === "object");
    ui.intents.replaceChildren(...(intents.length ? intents.map((i) => el("tr", {},
      el("td", { class: "mono" }, String(i.intent ?? "")),
      el("td", { class: "num" }, count(i.messages)))) : [emptyRow(2, "No messages in this range.")]));
  }

  function unansweredMessage(text) {
    ui.unanswered.replaceChildren();
    ui.unansweredNote.textContent = text;
    show(ui.unansweredNote, true);
  }

  function renderUnanswered(clusters) {
    const rows = clusters.filter((c) => c && typeof c === "object");
    show(ui.unansweredNote, false);
    if (!rows.length) { ui.unanswered.replaceChildren(emptyRow(4, "No unanswered questions in this range.")); return; }
    ui.unanswered.replaceChildren(...rows.map((c) => {
      const reasons = Object.entries(obj(c.reasons)).map(([k, v]) => [k, int(v)]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
      const example = String(c.example ?? "");
      const more = [...new Set(arr(c.examples).filter((x) => x != null).map(String))].filter((x) => x !== "" && x !== example).slice(0, 3);
      return el("tr", { "data-testid": "unanswered-row" },
        el("td", { class: "num" }, count(c.count)),
        el("td", { class: "example" }, example),
        el("td", {}, reasons.length ? reasons.map(([k, v]) => el("span", { class: "badge", title: human(k) + ": " + v }, label(k) + " " + v)) : DASH),
        el("td", {}, more.length ? el("details", { class: "more" },
          el("summary", {}, plural(more.length, "more example")),
          el("ul", {}, more.map((x) => el("li", {}, x)))) : el("span", { class: "muted" }, DASH)));
    }));
  }

  function knowledgeMessage(text) {
    ui.kBody.replaceChildren(el("p", { class: "empty" }, "Could not load the knowledge status: " + text));
  }

  function problemLine(p) {
    if (!p || typeof p !== "object") return String(p ?? "");
    const where = [p.file, p.line].filter((x) => x != null && x !== "").join(":");
    return (where ? where + ": " : "") + String(p.message ?? "");
  }

  function renderKnowledge(k) {
    const status = String(k.status ?? "unknown");
    const errors = arr(k.errors), regressions = arr(k.regressions);
    const row = (name, value) => [el("dt", {}, name), el("dd", {}, value)];
    const failures = int(k.failures);
    fill(ui.kBody,
      el("p", { class: "kn-state" },
        el("span", { class: "badge kn-" + (status === "ok" ? "ok" : status === "error" ? "error" : "other"), "data-testid": "knowledge-state", "data-status": status }, status),
        " ",
        status === "ok" ? "The latest knowledge is serving."
          : status === "error" ? "The last reload failed; the previous knowledge is still serving."
            : status === "loading" ? "The knowledge is loading." : ""),
      el("dl", { class: "kn-facts" },
        row("Loaded at", dateTime(k.loaded_at)),
        row("FAQ entries", count(k.faq_entries)),
        row("Intents", count(k.intents)),
        row("Reloads", count(k.reloads)),
        row("Failed reloads", count(k.failures)),
        failures || num(k.last_error_at) ? row("Last failure", dateTime(k.last_error_at)) : null),
      status !== "ok" && errors.length ? [
        el("h3", {}, plural(errors.length, "problem")),
        el("ul", { class: "kn-problems" }, errors.map((p) => el("li", { class: "mono", "data-testid": "knowledge-problem" }, problemLine(p))))] : null,
      regressions.length ? [
        el("h3", {}, plural(regressions.length, "regression") + " (tests that passed before and fail now)"),
        el("ul", { class: "kn-problems" }, regressions.map((x) => el("li", { class: "mono", "data-testid": "knowledge-regression" }, String(x ?? ""))))] : null);
  }

  // ---- Hooks for console.js --------------------------------------------------------------------
  function showPage() {
    if (!S.built) buildPage();
    if (!ui.from.value || !ui.to.value) { ui.to.value = todayUtc(); ui.from.value = addDays(ui.to.value, -13); }
    loadAll();
    loadKnowledge();
  }
  function hidePage() {
    clearTimeout(S.timer);
    if (S.ctrl) { S.ctrl.abort(); S.ctrl = null; busy(false); }
    if (S.kctrl) { S.kctrl.abort(); S.kctrl = null; }
  }
  function reset() {
    hidePage();
    S.gen++;
    S.reloading = false;
    root.replaceChildren();
    for (const k of Object.keys(ui)) delete ui[k];
    S.built = false;
  }

  window.tandemInsights = Object.freeze({
    configure(opts) { S.signedOut = opts && typeof opts.signedOut === "function" ? opts.signedOut : null; },
    show: showPage,
    hide: hidePage,
    reset,
  });
})();
