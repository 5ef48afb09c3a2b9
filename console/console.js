// tandem agent console: the logic behind console/index.html (served at /console/).
// Plain ES2020, no framework, no build step. Talks to the server as described in
// docs/agent-protocol.md: HTTP sign-in (/api/agent/login, /logout, /me), the /ws/agent websocket,
// and the optional canned responses endpoint (/api/agent/canned?q=...). Admins also get the
// Insights page (console/insights.js, loaded first; this file only switches to it).
// SECURITY: customer, bot and agent text is only ever inserted as text nodes (see `el`); there is
// no innerHTML anywhere in this file.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const ui = {
    loading: $("loading"), login: $("login"), loginForm: $("login-form"), email: $("login-email"),
    password: $("login-password"), loginError: $("login-error"), loginSubmit: $("login-submit"),
    app: $("app"), me: $("me"), conn: $("conn"), presence: $("presence"), logout: $("logout"),
    mine: $("mine"), mineEmpty: $("mine-empty"), mineCount: $("mine-count"),
    waiting: $("waiting"), waitingEmpty: $("waiting-empty"), waitingCount: $("waiting-count"),
    chatEmpty: $("chat-empty"), chat: $("chat"), chatTitle: $("chat-title"), chatState: $("chat-state"),
    claimOpen: $("claim-open"), transfer: $("transfer"), handBack: $("hand-back"), resolve: $("resolve"),
    banner: $("chat-banner"), transcript: $("transcript"), typing: $("typing"),
    canned: $("canned"), composer: $("composer"), note: $("note"), send: $("send"),
    context: $("context"), transferDialog: $("transfer-dialog"), transferQueue: $("transfer-queue"), transferAgent: $("transfer-agent"),
    toasts: $("toasts"), queueStatus: $("queue-status"), chatPriority: $("chat-priority"), chatSla: $("chat-sla"),
    chatsTab: $("chats-tab"), chatsPanel: $("chats-panel"), ticketsTab: $("tickets-tab"), ticketsPanel: $("tickets-panel"),
    tickets: $("tickets"), ticketsEmpty: $("tickets-empty"), ticketsCount: $("tickets-count"),
    views: $("views"), consoleTab: $("console-tab"), insightsTab: $("insights-tab"), insights: $("insights"),
  };

  // ---- State ---------------------------------------------------------------------------------
  const S = {
    agent: null, queues: [], waiting: [], mine: [], queueAt: Date.now(),
    skew: 0,               // server clock minus ours (ms), from the `now` of the latest queue frame
    queueStatus: [],       // the queue frame's `queues`: [{name, open, opens_at, closes_at, online, auto_assign}]
    tickets: [], ticketBusy: null, // open offline tickets; the id of the one a ticket_done was sent for
    autoClaim: null,       // id of a conversation the server just auto-assigned (its frame comes next)
    autoBy: null,          // the colleague who transferred it, if it was a transfer
    autoNew: new Set(),    // auto-assigned conversations not opened yet (shown with a "new" mark)
    frames: 0, queueNo: 0, convNo: 0, // order in which queue/conversation frames arrived
    conv: null,            // the last `conversation` frame shown, kept up to date by event/note
    seqs: new Set(),       // seqs shown for conv, to ignore repeats
    pending: [],           // {kind: "reply"|"note", text, clientId, node} awaiting the server's echo
    ws: null, wsWanted: false, backoff: 1000, retryTimer: 0,
    presence: "online",
    typingOn: false, typingConv: null, typingTimer: 0, custTypingTimer: 0,
    cannedOn: true, cannedItems: [], cannedIndex: 0, cannedTimer: 0, cannedSeq: 0,
    counter: 0,
    view: "console",       // or "insights" (admins only, drawn by insights.js)
  };

  // ---- DOM helper: text only through text nodes ----------------------------------------------
  // el("li", {class: "x", "data-testid": "y", onclick: fn}, "text", childNode, [more]).
  // Attribute values are set with setAttribute (never parsed as HTML); URL-bearing and inline
  // handler attributes are refused: links get their href as a property after a scheme check.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (typeof v === "function" && k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (/^(on|href$|src$|srcdoc$|style$|formaction$|action$)/i.test(k)) throw new Error("el: refused attribute " + k);
      else if (k === "class") node.className = String(v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function safeLink(url) {
    let u = null;
    try { u = new URL(String(url)); } catch (_) { /* not a URL: shown as text */ }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) return el("span", {}, String(url));
    const a = el("a", { target: "_blank", rel: "noopener noreferrer" }, String(url));
    a.href = u.href;
    return a;
  }
  const show = (node, on) => { node.hidden = !on; };
  const pad2 = (n) => String(n).padStart(2, "0");
  const mss = (secs) => { const s = Math.max(0, Math.floor(secs)); return Math.floor(s / 60) + ":" + pad2(s % 60); };
  const clock = (ms) => { if (!ms) return ""; const d = new Date(ms); return pad2(d.getHours()) + ":" + pad2(d.getMinutes()); };
  const dateTime = (ms) => (ms ? new Date(ms).toLocaleString() : "");
  const label = (s) => String(s || "").replace(/_/g, " ");
  const isMine = (c) => !!(c && S.agent && c.assigned_to === S.agent.id && c.state === "agent");
  // The conversation frame says it is ours, and no later queue snapshot says otherwise (there is
  // no frame for "resolved/transferred/handed back": it just leaves the "mine" list).
  const active = () => isMine(S.conv) && !(S.queueNo > S.convNo && !S.mine.some((m) => m.conversation_id === S.conv.conversation_id));
  // Countdowns run on the server's clock (the queue frame's `now`), so a wrong local clock cannot
  // hide a breach.
  const serverNow = () => Date.now() + S.skew;
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  // 8:42 under an hour, 23h 10m under a day, 2d 3h beyond.
  function span(secs) {
    if (secs < 3600) return mss(secs);
    if (secs < 86400) return Math.floor(secs / 3600) + "h " + Math.floor((secs % 3600) / 60) + "m";
    return Math.floor(secs / 86400) + "d " + Math.floor((secs % 86400) / 3600) + "h";
  }
  // A moment in the browser's locale: "Mon 09:00", with the date when it is a week or more away.
  function when(ms) {
    const far = Math.abs(ms - serverNow()) > 6 * 86400000;
    const opts = far ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } : { weekday: "short", hour: "2-digit", minute: "2-digit" };
    try { return new Date(ms).toLocaleString(undefined, opts); } catch (_) { return dateTime(ms); }
  }
  function ago(ms) {
    const s = Math.max(0, Math.floor((serverNow() - ms) / 1000));
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  // ---- Toasts --------------------------------------------------------------------------------
  // Errors are alerts; news (an auto-assigned chat) is a quieter status that goes sooner.
  function toast(message, code, info) {
    const t = el("div", { class: "toast" + (info ? " info" : ""), role: info ? "status" : "alert", "data-testid": "toast", "data-kind": info ? "info" : "error" },
      code ? el("span", { class: "toast-code" }, code) : null,
      el("span", { class: "toast-msg" }, message || "Something went wrong."),
      el("button", { type: "button", "aria-label": "Dismiss", "data-testid": "toast-dismiss", onclick: () => t.remove() }, "✕"));
    ui.toasts.appendChild(t);
    setTimeout(() => t.remove(), info ? 6000 : 10000);
  }

  // ---- HTTP ----------------------------------------------------------------------------------
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const res = await fetch(path, init);
    let data = null;
    if (res.status !== 204) { try { data = await res.json(); } catch (_) { data = null; } }
    return { status: res.status, ok: res.ok, data };
  }
  const errText = (r) => (r.data && r.data.message) || ("Request failed (HTTP " + r.status + ")");

  async function boot() {
    let r;
    try { r = await api("GET", "/api/agent/me"); } catch (_) { r = { status: 0 }; }
    show(ui.loading, false);
    if (r.ok && r.data && r.data.agent) startApp(r.data.agent);
    else { showLogin(r.status === 0 ? "Cannot reach the server." : ""); }
  }

  function showLogin(message) {
    stopSocket();
    S.agent = null;
    setView("console");
    if (insights) insights.reset(); // the next person to sign in starts from a blank page
    show(ui.app, false); show(ui.login, true);
    ui.loginError.textContent = message || "";
    show(ui.loginError, !!message);
    ui.password.value = "";
    (ui.email.value ? ui.password : ui.email).focus();
  }

  ui.loginForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    ui.loginSubmit.disabled = true;
    show(ui.loginError, false);
    try {
      const r = await api("POST", "/api/agent/login", { email: ui.email.value.trim(), password: ui.password.value });
      if (r.ok && r.data && r.data.agent) { ui.password.value = ""; startApp(r.data.agent); }
      else showLogin(errText(r));
    } catch (_) {
      showLogin("Cannot reach the server.");
    } finally {
      ui.loginSubmit.disabled = false;
    }
  });

  ui.logout.addEventListener("click", async () => {
    stopTyping();
    stopSocket();
    try { await api("POST", "/api/agent/logout"); } catch (_) { /* signed out locally anyway */ }
    selectConversation(null);
    showLogin("");
  });

  function startApp(agent) {
    S.agent = agent;
    setPresence("online");
    show(ui.login, false); show(ui.app, true);
    renderMe();
    renderQueues();
    selectConversation(null);
    S.wsWanted = true;
    S.backoff = 1000;
    connect();
  }

  function renderMe() {
    const a = S.agent;
    ui.me.textContent = a ? (a.name || a.email) + (a.role === "admin" ? " (admin)" : "") : "";
    const admin = !!(insights && a && a.role === "admin");
    show(ui.views, admin);
    show(ui.insightsTab, admin);
    if (!admin && S.view !== "console") setView("console");
  }

  // ---- Websocket -----------------------------------------------------------------------------
  function setConn(text, ok) {
    ui.conn.textContent = text;
    ui.conn.className = "conn " + (ok ? "ok" : "bad");
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (!S.wsWanted) return;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent";
    let ws;
    try { ws = new WebSocket(url); } catch (_) { scheduleReconnect(); return; }
    S.ws = ws;
    setConn("Connecting…", false);
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch (_) { return; }
      const h = f && typeof f === "object" ? handlers[f.type] : null;
      if (h) h(f); // unknown frame types are ignored
    };
    ws.onclose = (ev) => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.typingOn = false;
      if (ev.code === 4001) { showLogin("You were signed out."); return; }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (!S.wsWanted) return;
    const delay = S.backoff;
    S.backoff = Math.min(S.backoff * 2, 30000);
    setConn("Disconnected, retrying in " + Math.round(delay / 1000) + " s", false);
    S.retryTimer = setTimeout(async () => {
      // A refused upgrade (401) looks like any other failure to a browser: ask whether we are
      // still signed in before trying again.
      try {
        const r = await api("GET", "/api/agent/me");
        if (r.status === 401) { showLogin("Your session has ended. Please sign in again."); return; }
      } catch (_) { /* server unreachable: keep retrying */ }
      connect();
    }, delay);
  }

  function stopSocket() {
    S.wsWanted = false;
    clearTimeout(S.retryTimer);
    if (S.ws) { const ws = S.ws; S.ws = null; try { ws.close(1000); } catch (_) { /* ignore */ } }
  }

  function send(frame) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) { toast("Not connected; try again in a moment.", "offline"); return false; }
    S.ws.send(JSON.stringify(frame));
    return true;
  }

  // ---- Server frames -------------------------------------------------------------------------
  const handlers = {
    welcome(f) {
      S.backoff = 1000;
      if (f.agent) { S.agent = f.agent; renderMe(); }
      S.queues = Array.isArray(f.queues) ? f.queues : [];
      S.ticketBusy = null; S.autoClaim = null;
      setConn("Connected", true);
      send({ type: "presence", status: S.presence });
      if (S.conv) send({ type: "open", conversation_id: S.conv.conversation_id }); // refresh after a reconnect
    },
    queue(f) {
      S.waiting = Array.isArray(f.waiting) ? f.waiting : [];
      S.mine = Array.isArray(f.mine) ? f.mine : [];
      S.queueAt = Date.now();
      if (num(f.now) !== null) S.skew = f.now - S.queueAt;
      S.queueNo = ++S.frames;
      S.queueStatus = Array.isArray(f.queues) ? f.queues.filter((q) => q && typeof q === "object") : [];
      S.tickets = Array.isArray(f.tickets) ? f.tickets.filter((t) => t && typeof t === "object") : [];
      if (!S.tickets.some((t) => String(t.id) === S.ticketBusy)) S.ticketBusy = null; // done
      for (const id of S.autoNew) if (!S.mine.some((m) => String(m.conversation_id) === id)) S.autoNew.delete(id);
      renderQueueStatus();
      renderQueues();
      renderTickets();
      updateBanner();
    },
    claimed(f) {
      const id = String(f.conversation_id);
      if (S.conv && S.conv.conversation_id === f.conversation_id && S.agent) S.conv.assigned_to = S.agent.id;
      if (f.auto) { // its `conversation` frame follows
        S.autoClaim = id;
        S.autoBy = typeof f.transferred_by === "string" ? f.transferred_by : null;
        S.autoNew.add(id);
        renderQueues();
      }
    },
    conversation(f) {
      if (S.autoClaim !== null && String(f.conversation_id) === S.autoClaim) {
        S.autoClaim = null;
        const from = f.queue || "a queue";
        toast(S.autoBy ? S.autoBy + " transferred a chat from " + from + " to you" : "A chat from " + from + " was assigned to you", null, true);
        S.autoBy = null;
        // Opened only when it takes nothing from the agent: no conversation shown, or one that
        // stopped being theirs with nothing typed. Otherwise it waits in "mine", marked new.
        const idle = !S.conv || S.conv.conversation_id === f.conversation_id || (isMine(S.conv) && !active() && !ui.composer.value.trim());
        if (!idle) { renderQueues(); return; }
      }
      showConversation(f);
    },
    event(f) {
      if (!S.conv || f.conversation_id !== S.conv.conversation_id || !f.event) return;
      addEntry(f.event);
      if (f.event.sender === "customer") setCustomerTyping(false);
      if (f.event.sender === "agent") firstResponseMade(S.conv.conversation_id);
    },
    note(f) {
      if (!S.conv || f.conversation_id !== S.conv.conversation_id || !f.note) return;
      S.conv.notes = (S.conv.notes || []).concat([f.note]);
      const p = takePending("note", f.note);
      const node = noteEntry(f.note);
      appendToTranscript(node, p && p.node);
      renderContext();
    },
    typing(f) { if (S.conv && f.conversation_id === S.conv.conversation_id) setCustomerTyping(!!f.active); },
    error(f) {
      toast(f.message || label(f.code), f.code);
      if (S.ticketBusy !== null) { S.ticketBusy = null; renderTickets(); } // a refused ticket_done
      // Frames carry no id the error could point at: mark what is still unconfirmed.
      for (const p of S.pending) if (!p.failed) { p.failed = true; p.node.classList.add("failed"); p.status.textContent = "not confirmed"; }
    },
  };

  // ---- Queue lists ---------------------------------------------------------------------------
  function keepFocus(container, render) {
    const a = document.activeElement;
    const key = a && container.contains(a) ? a.getAttribute("data-focus-key") : null;
    render();
    if (key) { const n = [...container.querySelectorAll("[data-focus-key]")].find((x) => x.getAttribute("data-focus-key") === key); if (n) n.focus(); }
  }

  function renderQueues() {
    const cur = S.conv ? S.conv.conversation_id : null;
    keepFocus(ui.waiting, () => ui.waiting.replaceChildren(...S.waiting.map((w) => waitingItem(w, cur))));
    keepFocus(ui.mine, () => ui.mine.replaceChildren(...S.mine.map((m, i) => mineItem(m, i, cur))));
    show(ui.waitingEmpty, S.waiting.length === 0);
    show(ui.mineEmpty, S.mine.length === 0);
    ui.waitingCount.textContent = S.waiting.length ? "(" + S.waiting.length + ")" : "";
    ui.mineCount.textContent = S.mine.length ? "(" + S.mine.length + ")" : "";
    tick();
  }

  function waitingItem(w, cur) {
    const id = String(w.conversation_id);
    const prio = String(w.priority || "normal");
    const hot = prio === "high" || prio === "urgent";
    const open = () => send({ type: "open", conversation_id: id });
    return el("li", {
      class: [hot ? "prio-" + prio : "", id === cur ? "selected" : ""].join(" ").trim(),
      "data-testid": "waiting-item", "data-conversation-id": id, "data-priority": prio,
    },
      el("button", { type: "button", class: "item-main", "data-focus-key": "open:" + id, "data-testid": "waiting-open", onclick: open },
        el("span", { class: "item-row" },
          el("span", { class: "badge", title: "Position in queue" }, "#" + (w.position ?? "?")),
          el("span", { class: "item-name" }, w.customer_name || "Visitor"),
          el("span", { class: "wait", "data-wait": String(Number(w.waiting_secs) || 0), title: "Waiting time" }, mss(w.waiting_secs || 0))),
        el("span", { class: "item-row" },
          el("span", { class: "badge" }, w.queue || ""),
          el("span", { class: "badge" + (hot ? " prio-badge-" + prio : "") }, prio),
          w.reason ? el("span", { class: "badge" }, label(w.reason)) : null,
          w.locale ? el("span", { class: "badge" }, w.locale) : null,
          slaNode(w.sla)),
        el("span", { class: "item-preview" }, w.preview || "")),
      el("div", { class: "item-foot" },
        el("button", { type: "button", class: "primary", "data-testid": "claim", "data-focus-key": "claim:" + id,
          onclick: () => send({ type: "claim", conversation_id: id }) }, "Claim")));
  }

  function mineItem(m, i, cur) {
    const id = String(m.conversation_id);
    const unread = Number(m.unread) || 0;
    const fresh = !unread && S.autoNew.has(id);
    const prio = String(m.priority || "normal");
    const hot = prio === "high" || prio === "urgent";
    return el("li", { class: [hot ? "prio-" + prio : "", id === cur ? "selected" : ""].join(" ").trim(),
      "data-testid": "mine-item", "data-conversation-id": id, "data-priority": prio },
      el("button", { type: "button", class: "item-main", "data-focus-key": "mine:" + id,
        onclick: () => send({ type: "open", conversation_id: id }) },
        el("span", { class: "item-row" },
          el("span", { class: "item-name" }, m.customer_name || "Conversation " + id.slice(0, 8)),
          el("span", { class: "badge" }, m.queue || ""),
          hot ? el("span", { class: "badge prio-badge-" + prio }, prio) : null,
          unread ? el("span", { class: "badge unread", "data-testid": "unread", "aria-label": unread + " unread" }, String(unread)) : null,
          fresh ? el("span", { class: "badge unread", "data-testid": "unread", "aria-label": "new, assigned to you" }, "new") : null,
          slaNode(m.sla),
          i < 9 ? el("span", { class: "shortcut", "aria-hidden": "true" }, "Alt+" + (i + 1)) : null),
        el("span", { class: "item-preview" }, m.preview || "")));
  }

  // ---- SLA countdowns ------------------------------------------------------------------------
  // An sla element keeps its due times in data-fr / data-res; the clock repaints its text every
  // second (no list is re-rendered for it). The nearest target counts: first response while it
  // is due (not null), then resolution. Past it: "FR overdue 2:10" and class `breach` on the
  // element and on its list item.
  function slaNode(sla) {
    if (!sla || typeof sla !== "object") return null;
    const n = el("span", { class: "badge sla", "data-testid": "sla" });
    setSla(n, sla);
    return n;
  }
  function setSla(n, sla) {
    const fr = sla ? num(sla.first_response_due) : null;
    const res = sla ? num(sla.resolution_due) : null;
    n.setAttribute("data-fr", fr === null ? "" : String(fr));
    n.setAttribute("data-res", res === null ? "" : String(res));
    paintSla(n, serverNow());
  }
  function paintSla(n, now) {
    const fr = n.getAttribute("data-fr"), res = n.getAttribute("data-res");
    const first = fr !== "" && fr !== null;
    const due = first ? Number(fr) : res ? Number(res) : null;
    const li = n.closest("li");
    show(n, due !== null);
    if (due === null) { n.classList.remove("breach"); if (li) li.classList.remove("breach"); return; }
    const over = now >= due;
    const secs = over ? Math.floor((now - due) / 1000) : Math.ceil((due - now) / 1000);
    n.textContent = (first ? "FR " : "Res ") + (over ? "overdue " : "") + span(secs);
    n.title = (first ? "First response" : "Resolution") + (over ? " was due " : " due ") + dateTime(due);
    n.classList.toggle("breach", over);
    if (li) li.classList.toggle("breach", over);
  }
  // An agent replied: the first-response target is met (the server sends null from now on).
  function firstResponseMade(id) {
    if (S.conv && S.conv.sla && S.conv.conversation_id === id) { S.conv.sla.first_response_due = null; setSla(ui.chatSla, S.conv.sla); }
    const m = S.mine.find((x) => x.conversation_id === id);
    if (m && m.sla) m.sla.first_response_due = null;
    const li = [...ui.mine.children].find((x) => x.getAttribute("data-conversation-id") === String(id));
    const n = li && li.querySelector("[data-testid=sla]");
    if (n) { n.setAttribute("data-fr", ""); paintSla(n, serverNow()); }
  }

  function tick() {
    const elapsed = (Date.now() - S.queueAt) / 1000;
    for (const n of ui.waiting.querySelectorAll("[data-wait]")) n.textContent = mss(Number(n.getAttribute("data-wait")) + elapsed);
    const now = serverNow();
    for (const n of document.querySelectorAll("[data-testid=sla]")) paintSla(n, now);
    for (const n of ui.tickets.querySelectorAll("[data-created]")) {
      const t = ago(Number(n.getAttribute("data-created")));
      if (n.textContent !== t) n.textContent = t;
    }
  }
  setInterval(tick, 1000);

  // ---- Queue status strip --------------------------------------------------------------------
  function renderQueueStatus() {
    show(ui.queueStatus, S.queueStatus.length > 0);
    ui.queueStatus.replaceChildren(...S.queueStatus.map((q) => {
      const open = !!q.open;
      const opens = num(q.opens_at), closes = num(q.closes_at);
      const online = Number(q.online) || 0;
      return el("li", { class: "qs-item " + (open ? "qs-open" : "qs-closed"), "data-testid": "queue-status-item",
        "data-queue": String(q.name ?? ""), "data-open": open ? "true" : "false",
        title: open ? (closes !== null ? "Open, closes " + when(closes) : "Open") : (opens !== null ? "Closed, opens " + when(opens) : "Closed") },
        el("span", { class: "qs-name" }, String(q.name ?? "")),
        el("span", { class: "qs-state", "data-testid": "queue-open-state" }, open ? "open" : "closed" + (opens !== null ? " — opens " + when(opens) : "")),
        el("span", { class: "qs-online", "data-testid": "queue-online" }, online + " online"),
        q.auto_assign ? el("span", { class: "badge qs-auto", "data-testid": "queue-auto", title: "New chats are assigned to online agents automatically" }, "auto") : null);
    }));
  }

  // ---- Offline tickets -----------------------------------------------------------------------
  // What customers left when nobody could take their chat: a message and maybe an email, both
  // customer text. The email becomes a mailto: link only when it looks like one address.
  const EMAIL = /^[^\s\x00-\x1f\x7f@<>()[\]\\,;:"'`]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
  function emailNode(email) {
    if (email == null || email === "") return el("span", { class: "muted" }, "No email left");
    const text = String(email).trim();
    if (text.length > 254 || !EMAIL.test(text)) return el("span", { class: "muted", title: "Does not look like an email address" }, text);
    const at = text.lastIndexOf("@");
    const a = el("a", { "data-testid": "ticket-email-link" }, text);
    a.href = "mailto:" + encodeURIComponent(text.slice(0, at)) + "@" + text.slice(at + 1);
    return a;
  }

  function renderTickets() {
    const n = S.tickets.length;
    ui.ticketsCount.textContent = n ? String(n) : "";
    show(ui.ticketsCount, n > 0);
    ui.ticketsTab.setAttribute("aria-label", "Tickets" + (n ? " (" + n + " open)" : ""));
    show(ui.ticketsEmpty, n === 0);
    const inside = ui.tickets.contains(document.activeElement);
    const before = inside ? [...ui.tickets.children].indexOf(document.activeElement.closest("li")) : -1;
    keepFocus(ui.tickets, () => ui.tickets.replaceChildren(...S.tickets.map(ticketItem)));
    // The ticket with focus was done and is gone: move on to the next one, not to the page.
    if (inside && !ui.tickets.contains(document.activeElement)) {
      const next = ui.tickets.children[Math.min(before, n - 1)];
      (next ? next.querySelector("[data-testid=ticket-done]") : ui.ticketsTab).focus();
    }
  }

  function ticketItem(t) {
    const id = String(t.id);
    const conv = t.conversation_id == null ? "" : String(t.conversation_id);
    const created = num(t.created_at);
    const busy = S.ticketBusy === id;
    return el("li", { class: "ticket", "data-testid": "ticket", "data-ticket-id": id, "data-conversation-id": conv },
      el("div", { class: "item-row" },
        el("span", { class: "badge" }, String(t.queue ?? "")),
        created !== null ? el("span", { class: "wait", "data-created": String(created), "data-testid": "ticket-age", title: dateTime(created) }, ago(created)) : null),
      el("div", { class: "ticket-email", "data-testid": "ticket-email" }, emailNode(t.email)),
      el("p", { class: "ticket-text", "data-testid": "ticket-text" }, String(t.text ?? "")),
      el("div", { class: "item-foot" },
        el("button", { type: "button", "data-testid": "ticket-open", "data-focus-key": "topen:" + id, disabled: !conv,
          onclick: () => send({ type: "open", conversation_id: conv }) }, "View conversation"),
        el("button", { type: "button", class: "primary", "data-testid": "ticket-done", "data-focus-key": "tdone:" + id, "aria-disabled": busy ? "true" : null,
          onclick: () => { if (S.ticketBusy === null && send({ type: "ticket_done", ticket_id: id })) { S.ticketBusy = id; renderTickets(); } } },
        busy ? "Marking done…" : "Mark done")));
  }

  // ---- Tabs: chats / tickets (arrow keys move between them, as tabs do) ----------------------
  const tabs = [["chats", ui.chatsTab, ui.chatsPanel], ["tickets", ui.ticketsTab, ui.ticketsPanel]];
  function setTab(name, focus) {
    for (const [n, tab, panel] of tabs) {
      tab.setAttribute("aria-selected", n === name ? "true" : "false");
      tab.tabIndex = n === name ? 0 : -1;
      show(panel, n === name);
      if (n === name && focus) tab.focus();
    }
  }
  for (const [n, tab] of tabs) {
    tab.addEventListener("click", () => setTab(n, false));
    tab.addEventListener("keydown", (e) => {
      const i = tabs.findIndex((x) => x[0] === n);
      const j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : null;
      if (j === null) return;
      e.preventDefault();
      setTab(tabs[(j + tabs.length) % tabs.length][0], true);
    });
  }

  // ---- Pages: the console, or Insights (admins only; console/insights.js draws it) ------------
  const insights = window.tandemInsights || null;
  const consoleParts = [document.querySelector(".app > .queues"), document.querySelector(".app > .chat"), ui.context];
  function setView(name) {
    const on = name === "insights" && !!insights && !!S.agent && S.agent.role === "admin";
    S.view = on ? "insights" : "console";
    for (const n of consoleParts) show(n, !on);
    show(ui.insights, on);
    ui.consoleTab.setAttribute("aria-current", on ? "false" : "page");
    ui.insightsTab.setAttribute("aria-current", on ? "page" : "false");
    if (on) insights.show(); else if (insights) insights.hide();
  }
  ui.consoleTab.addEventListener("click", () => setView("console"));
  ui.insightsTab.addEventListener("click", () => setView("insights"));
  if (insights) insights.configure({ signedOut: () => showLogin("Your session has ended. Please sign in again.") });

  // ---- Conversation view ---------------------------------------------------------------------
  function selectConversation(conv) {
    if (!conv || !S.conv || conv.conversation_id !== S.conv.conversation_id) { stopTyping(); closeCanned(); setCustomerTyping(false); }
    S.conv = conv;
    show(ui.chatEmpty, !conv);
    show(ui.chat, !!conv);
    if (!conv) { ui.context.replaceChildren(); renderQueues(); }
  }

  function showConversation(f) {
    const same = S.conv && S.conv.conversation_id === f.conversation_id;
    selectConversation(f);
    S.convNo = ++S.frames;
    S.seqs = new Set();
    S.autoNew.delete(String(f.conversation_id)); // seen now; renderQueues below drops its mark
    if (!same) { S.pending = []; ui.composer.value = ""; }
    for (const e of f.transcript || []) if (e.sender === "agent") takePending("reply", e);
    for (const n of f.notes || []) takePending("note", n);
    const c = f.customer || {};
    const name = (c.attributes && c.attributes.name) || c.id || "Visitor";
    ui.chatTitle.textContent = String(name);
    // Transcript entries and notes, merged by time.
    const items = (f.transcript || []).map((e) => ({ t: e.created_at || 0, node: () => entryNode(e), e }))
      .concat((f.notes || []).map((n) => ({ t: n.created_at || 0, node: () => noteEntry(n) })))
      .sort((a, b) => a.t - b.t);
    const nodes = [];
    for (const it of items) {
      if (it.e && it.e.seq != null) { if (S.seqs.has(it.e.seq)) continue; S.seqs.add(it.e.seq); }
      nodes.push(it.node());
    }
    const keep = S.pending.filter((p) => !p.failed).map((p) => p.node);
    ui.transcript.replaceChildren(...nodes, ...keep);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    renderState();
    renderContext();
    renderQueues();
    if (active()) ui.composer.focus();
  }

  function renderState() {
    const f = S.conv;
    ui.chatState.textContent = label(f.state || "unknown");
    ui.chatState.setAttribute("data-state", String(f.state || ""));
    const prio = String(f.priority || "normal");
    const hot = prio === "high" || prio === "urgent";
    ui.chatPriority.textContent = prio;
    ui.chatPriority.className = "badge" + (hot ? " prio-badge-" + prio : "");
    show(ui.chatPriority, !!f.priority && prio !== "normal");
    setSla(ui.chatSla, f.state === "closed" ? null : f.sla);
    ui.composer.disabled = false; // notes can be written on any open conversation
    updateBanner();
  }

  // Banner, Claim button and which actions are enabled, from the conversation frame and the
  // latest queue snapshot.
  function updateBanner() {
    const f = S.conv;
    if (!f) return;
    const mine = active();
    const waiting = S.waiting.some((w) => w.conversation_id === f.conversation_id);
    let msg = "";
    if (isMine(f) && !mine) msg = "This conversation is no longer assigned to you (resolved, transferred or handed back).";
    else if (!mine && waiting) msg = "Waiting for an agent. Claim it to reply.";
    else if (!mine && f.state === "agent" && f.assigned_to) msg = "Another agent is handling this conversation.";
    ui.banner.textContent = msg;
    show(ui.banner, !!msg);
    show(ui.claimOpen, waiting && !mine);
    for (const b of [ui.transfer, ui.handBack, ui.resolve, ui.send]) b.disabled = !mine;
    ui.composer.placeholder = mine ? "Reply… (Enter sends, Shift+Enter new line, / for canned responses)"
      : "Claim this conversation to reply; you can still add an internal note.";
  }

  function senderName(e) {
    switch (e.sender) {
      case "customer": { const a = S.conv && S.conv.customer && S.conv.customer.attributes; return (a && a.name) || "Customer"; }
      case "bot": return "Bot";
      case "agent": return e.agent_name || "Agent";
      default: return "System";
    }
  }

  function feedbackVote(e) {
    // The customer's vote on a bot answer. The documented `feedback` boolean means "feedback was
    // asked for"; a vote is looked for in `helpful` (or `feedback: {helpful}` / "helpful").
    if (typeof e.helpful === "boolean") return e.helpful;
    if (e.feedback && typeof e.feedback === "object" && typeof e.feedback.helpful === "boolean") return e.feedback.helpful;
    if (e.feedback === "helpful" || e.feedback === "unhelpful") return e.feedback === "helpful";
    return null;
  }

  function entryNode(e) {
    const sender = ["customer", "bot", "agent"].includes(e.sender) ? e.sender : "system";
    const meta = [];
    if (e.intent) meta.push(el("span", { class: "badge", title: "Intent and confidence", "data-testid": "intent" },
      label(e.intent) + (typeof e.confidence === "number" ? " " + Math.round(e.confidence * 100) + "%" : "")));
    if (e.faq_id) meta.push(el("span", { class: "badge", title: "FAQ entry" }, "FAQ " + e.faq_id));
    if (e.decision) meta.push(el("span", { class: "badge", title: "Bot decision" }, label(e.decision)));
    if (e.choice_id) meta.push(el("span", { class: "badge", title: "Clicked choice" }, "choice " + e.choice_id));
    const vote = feedbackVote(e);
    if (vote !== null) meta.push(el("span", { class: "badge " + (vote ? "fb-up" : "fb-down"), "data-testid": "feedback" }, vote ? "👍 helpful" : "👎 not helpful"));
    else if (e.feedback === true) meta.push(el("span", { class: "badge", title: "The customer was asked whether this helped" }, "feedback asked"));
    return el("li", { class: "entry " + sender, "data-testid": "entry", "data-sender": sender, "data-seq": e.seq ?? "", "data-kind": e.kind || "" },
      el("div", { class: "entry-head" },
        el("span", { class: "entry-who" }, senderName(e)),
        e.kind && sender === "system" ? el("span", {}, label(e.kind)) : null,
        el("time", {}, clock(e.created_at))),
      el("div", { class: "entry-text" }, e.text || (e.kind ? "(" + label(e.kind) + ")" : "")),
      meta.length ? el("div", { class: "entry-meta" }, meta) : null);
  }

  function noteEntry(n) {
    return el("li", { class: "entry note", "data-testid": "note-entry", "data-internal": "true" },
      el("div", { class: "entry-head" },
        el("span", { class: "internal" }, "Internal note · not visible to the customer"),
        el("span", { class: "entry-who" }, n.agent_name || "Agent"),
        el("time", {}, clock(n.created_at))),
      el("div", { class: "entry-text" }, n.text || ""));
  }

  // Adds `node` to the transcript (before unconfirmed replies), or puts it in place of the
  // pending entry it confirms; keeps the view pinned to the bottom when it was there.
  function appendToTranscript(node, replacing) {
    const t = ui.transcript;
    const atBottom = t.scrollHeight - t.scrollTop - t.clientHeight < 40;
    const firstPending = S.pending.length && !node.classList.contains("pending") ? S.pending[0].node : null;
    if (replacing && replacing.parentNode === t) replacing.replaceWith(node);
    else if (firstPending && firstPending.parentNode === t) t.insertBefore(node, firstPending);
    else t.appendChild(node);
    if (atBottom || node.classList.contains("pending")) t.scrollTop = t.scrollHeight;
  }


  function addEntry(e) {
    if (e.seq != null) { if (S.seqs.has(e.seq)) return; S.seqs.add(e.seq); }
    const node = entryNode(e);
    const p = e.sender === "agent" ? takePending("reply", e) : null;
    appendToTranscript(node, p && p.node);
  }

  // Replies and notes are shown at once as "sending…", and replaced by the server's echo
  // (matched by client_id when the echo carries it, else by text).
  function addPending(kind, text, clientId) {
    const status = el("span", {}, "sending…");
    const node = el("li", { class: "entry pending " + (kind === "note" ? "note" : "agent"), "data-testid": "pending", "data-client-id": clientId || "" },
      el("div", { class: "entry-head" }, kind === "note" ? el("span", { class: "internal" }, "Internal note") : el("span", { class: "entry-who" }, "You"), status),
      el("div", { class: "entry-text" }, text));
    const p = { kind, text, clientId, node, status, failed: false };
    S.pending.push(p);
    appendToTranscript(node);
  }
  function takePending(kind, echo) {
    const i = S.pending.findIndex((p) => p.kind === kind && ((echo.client_id && p.clientId === echo.client_id) || p.text === echo.text));
    return i < 0 ? null : S.pending.splice(i, 1)[0];
  }

  function setCustomerTyping(on) {
    clearTimeout(S.custTypingTimer);
    show(ui.typing, on);
    if (on) S.custTypingTimer = setTimeout(() => show(ui.typing, false), 8000);
  }

  // ---- Context panel -------------------------------------------------------------------------
  function section(title, testid, ...body) {
    return el("section", { "data-testid": testid }, el("h2", {}, title), body);
  }
  function renderContext() {
    const f = S.conv;
    if (!f) { ui.context.replaceChildren(); return; }
    const c = f.customer || {};
    const attrs = c.attributes && typeof c.attributes === "object" ? Object.entries(c.attributes) : [];
    const row = (k, v) => (v == null || v === "" ? [] : [el("dt", {}, k), el("dd", {}, v)]);
    ui.context.replaceChildren(
      section("Handoff", "ctx-handoff", el("dl", {},
        row("Reason", label(f.reason)), row("Queue", f.queue), row("State", label(f.state)))),
      section("Customer", "ctx-customer", el("dl", {},
        row("ID", c.id), row("Locale", c.locale),
        c.page_url ? [el("dt", {}, "Page"), el("dd", { "data-testid": "page-url" }, safeLink(c.page_url))] : [],
        attrs.map(([k, v]) => row(k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))))),
      section("Suggestions", "ctx-suggestions", (f.suggestions || []).length ? el("ul", {}, f.suggestions.map((s) =>
        el("li", { class: "suggestion", "data-testid": "suggestion" },
          el("span", { class: "suggestion-q" }, s.question || s.faq_id || ""),
          el("span", { class: "suggestion-a" }, s.answer || ""),
          el("button", { type: "button", "data-testid": "use-suggestion", onclick: () => useText(s.answer || "") }, "Use")))) : el("p", { class: "empty" }, "None.")),
      section("Internal notes", "ctx-notes", (f.notes || []).length ? el("ul", {}, f.notes.map((n) =>
        el("li", { class: "ctx-note", "data-testid": "note-item" }, el("strong", {}, n.agent_name || "Agent"), " · ", clock(n.created_at), "\n", n.text || ""))) : el("p", { class: "empty" }, "None.")),
      section("Earlier conversations", "ctx-history", (f.history || []).length ? el("ul", {}, f.history.map((h) =>
        el("li", {}, el("button", { type: "button", "data-testid": "history-item", onclick: () => send({ type: "open", conversation_id: String(h.conversation_id) }) },
          dateTime(h.created_at), " · ", label(h.state))))) : el("p", { class: "empty" }, "None.")));
  }

  function useText(text) {
    const v = ui.composer.value;
    ui.composer.value = v.trim() ? v.replace(/\s*$/, "") + "\n\n" + text : text;
    ui.composer.focus();
    ui.composer.setSelectionRange(ui.composer.value.length, ui.composer.value.length);
    onComposerInput();
  }

  // ---- Composer: reply, note, typing ---------------------------------------------------------
  function startTyping() {
    if (!S.conv || !active()) return;
    const id = S.conv.conversation_id;
    if (!S.typingOn || S.typingConv !== id) { if (send({ type: "typing", conversation_id: id, active: true })) { S.typingOn = true; S.typingConv = id; } }
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(S.typingTimer);
    if (S.typingOn && S.typingConv && S.ws && S.ws.readyState === WebSocket.OPEN) {
      S.ws.send(JSON.stringify({ type: "typing", conversation_id: S.typingConv, active: false }));
    }
    S.typingOn = false;
  }

  function sendReply() {
    const text = ui.composer.value.trim();
    if (!text || !S.conv || !active()) return;
    const clientId = "a-" + Date.now() + "-" + (++S.counter);
    stopTyping();
    if (!send({ type: "reply", conversation_id: S.conv.conversation_id, client_id: clientId, text })) return;
    addPending("reply", text, clientId);
    ui.composer.value = "";
    closeCanned();
  }
  function sendNote() {
    const text = ui.composer.value.trim();
    if (!text || !S.conv) return;
    if (!send({ type: "note", conversation_id: S.conv.conversation_id, text })) return;
    stopTyping();
    addPending("note", text, "");
    ui.composer.value = "";
    closeCanned();
  }

  function onComposerInput() {
    const v = ui.composer.value;
    if (v.trim() && !v.startsWith("/")) startTyping(); else stopTyping(); // no "typing" for a slash command
    if (S.cannedOn && v.startsWith("/") && !v.includes("\n")) queryCanned(v.slice(1));
    else closeCanned();
  }

  ui.composer.addEventListener("input", onComposerInput);
  ui.composer.addEventListener("keydown", (e) => {
    if (!ui.canned.hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = S.cannedItems.length;
        if (n) moveCanned((S.cannedIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if (e.key === "Enter" && !e.shiftKey && S.cannedItems.length) { e.preventDefault(); pickCanned(S.cannedIndex); return; }
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); closeCanned(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendReply(); }
  });
  ui.composer.addEventListener("blur", () => setTimeout(() => { if (!ui.canned.contains(document.activeElement)) closeCanned(); }, 150));
  ui.send.addEventListener("click", sendReply);
  ui.note.addEventListener("click", sendNote);

  // ---- Canned responses ----------------------------------------------------------------------
  function queryCanned(q) {
    clearTimeout(S.cannedTimer);
    S.cannedTimer = setTimeout(async () => {
      const seq = ++S.cannedSeq;
      let r;
      try { r = await api("GET", "/api/agent/canned?q=" + encodeURIComponent(q)); } catch (_) { return; }
      if (seq !== S.cannedSeq || !ui.composer.value.startsWith("/")) return;
      if (r.status === 404) { S.cannedOn = false; closeCanned(); return; } // feature not on this server
      if (!r.ok) return;
      S.cannedItems = (r.data && Array.isArray(r.data.canned) ? r.data.canned : []).slice(0, 20);
      renderCanned();
    }, 150);
  }
  function renderCanned() {
    S.cannedIndex = 0;
    ui.canned.replaceChildren(...S.cannedItems.map((c, i) =>
      el("li", { id: "canned-" + i, role: "option", "aria-selected": i === 0 ? "true" : "false", "data-testid": "canned-item",
        onmousedown: (e) => { e.preventDefault(); pickCanned(i); } },
        el("strong", {}, c.title || ""), el("span", { class: "canned-text" }, c.text || ""))));
    if (!S.cannedItems.length) ui.canned.replaceChildren(el("li", { class: "empty", "aria-disabled": "true" }, "No canned response matches."));
    show(ui.canned, true);
    ui.composer.setAttribute("aria-expanded", "true");
    moveCanned(0);
  }
  function moveCanned(i) {
    S.cannedIndex = i;
    ui.canned.querySelectorAll("[role=option]").forEach((n, j) => n.setAttribute("aria-selected", j === i ? "true" : "false"));
    const cur = $("canned-" + i);
    if (cur) { ui.composer.setAttribute("aria-activedescendant", cur.id); cur.scrollIntoView({ block: "nearest" }); }
  }
  function pickCanned(i) {
    const c = S.cannedItems[i];
    if (!c) return;
    ui.composer.value = String(c.text || "");
    closeCanned();
    ui.composer.focus();
    startTyping();
  }
  function closeCanned() {
    clearTimeout(S.cannedTimer);
    S.cannedSeq++;
    S.cannedItems = [];
    show(ui.canned, false);
    ui.canned.replaceChildren();
    ui.composer.removeAttribute("aria-activedescendant");
    ui.composer.setAttribute("aria-expanded", "false");
  }

  // ---- Actions -------------------------------------------------------------------------------
  const convId = () => (S.conv ? S.conv.conversation_id : null);
  ui.claimOpen.addEventListener("click", () => { if (convId()) send({ type: "claim", conversation_id: convId() }); });
  ui.resolve.addEventListener("click", () => { if (convId()) { stopTyping(); send({ type: "resolve", conversation_id: convId() }); } });
  ui.handBack.addEventListener("click", () => { if (convId()) { stopTyping(); send({ type: "hand_back", conversation_id: convId() }); } });
  // Colleagues who can take the conversation straight away: online, and serving its queue (or
  // admins, who serve every queue). Those away are listed but cannot be picked.
  async function fillColleagues(queue) {
    ui.transferAgent.replaceChildren(el("option", { value: "" }, "Nobody: to the queue"));
    let list = [];
    try {
      const r = await fetch("/api/agent/colleagues", { credentials: "same-origin" });
      if (r.ok) list = ((await r.json()) || {}).colleagues || [];
    } catch (_) { /* offline: the queue choice still works */ }
    for (const c of list) {
      if (!c || typeof c !== "object") continue;
      const serves = c.admin || (Array.isArray(c.skills) && c.skills.includes(queue));
      if (!serves) continue;
      const option = el("option", { value: String(c.id) }, String(c.name || c.id) + (c.online ? "" : " (away)"));
      option.disabled = !c.online;
      ui.transferAgent.appendChild(option);
    }
  }
  ui.transfer.addEventListener("click", () => {
    if (!convId()) return;
    const others = S.queues.filter((q) => q !== S.conv.queue);
    const list = others.length ? others : S.queues;
    if (!list.length) { toast("No queues to transfer to.", "no_queues"); return; }
    ui.transferQueue.replaceChildren(...list.map((q) => el("option", { value: q }, q)));
    fillColleagues(S.conv.queue || "");
    ui.transferDialog.returnValue = "";
    ui.transferDialog.showModal();
    ui.transferQueue.focus();
  });
  ui.transferDialog.addEventListener("close", () => {
    if (ui.transferDialog.returnValue === "ok" && convId()) {
      const agentId = ui.transferAgent.value;
      if (agentId) {
        stopTyping();
        send({ type: "transfer", conversation_id: convId(), agent_id: agentId });
      } else if (ui.transferQueue.value) {
        stopTyping();
        send({ type: "transfer", conversation_id: convId(), queue: ui.transferQueue.value });
      }
    }
    ui.composer.focus();
  });

  ui.presence.addEventListener("click", () => {
    const next = S.presence === "online" ? "away" : "online";
    if (send({ type: "presence", status: next })) setPresence(next);
  });
  function setPresence(status) {
    S.presence = status;
    ui.presence.textContent = status === "online" ? "Online" : "Away";
    ui.presence.setAttribute("aria-pressed", status === "online" ? "true" : "false");
    ui.presence.title = status === "online" ? "You get new chats. Click to go away." : "You get no auto-assigned chats. Click to go online.";
  }

  // ---- Global keys: Alt+1..9 picks a "mine" conversation, Esc closes popups ------------------
  document.addEventListener("keydown", (e) => {
    if (ui.app.hidden) return;
    const m = /^Digit([1-9])$/.exec(e.code || "");
    if (e.altKey && !e.ctrlKey && !e.metaKey && m) {
      const item = S.mine[Number(m[1]) - 1];
      if (item) { e.preventDefault(); setView("console"); send({ type: "open", conversation_id: String(item.conversation_id) }); }
      return;
    }
    if (e.key === "Escape" && !ui.transferDialog.open) {
      if (!ui.canned.hidden) { closeCanned(); return; }
      const t = ui.toasts.lastElementChild;
      if (t) t.remove();
    }
  });
  window.addEventListener("beforeunload", stopTyping);

  boot();
})();
