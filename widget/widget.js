/*
 * tandem customer chat widget.
 *
 * One self-contained file, no dependencies and no build step. A site embeds it with one tag:
 *
 *   <script src="https://support.example.com/widget.js" data-title="Brightcart help" async></script>
 *
 * and gets a launcher button and a chat panel that talk to the tandem server over the customer
 * websocket protocol (docs/protocol.md): hello/welcome with a resume token, replay by `seq`,
 * messages acknowledged by `client_id`, answers, clarifying questions, handoff to a person,
 * the offline form and the satisfaction rating.
 *
 * Everything is drawn inside a Shadow DOM (with `:host { all: initial }`), so the host page's CSS
 * cannot leak in and the widget never touches the page's own styles. Only the server's sanitised
 * answer HTML is ever inserted as HTML; every other string (what the customer, agents and the
 * server write) goes in as text.
 *
 * Attributes, the `window.Tandem` API and the size budget are described in widget/README.md.
 */
(function () {
  'use strict';

  var w = window;
  var d = document;
  // Captured synchronously: `currentScript` is only set while this file first runs.
  var script = d.currentScript;

  // A page that includes the tag twice gets one widget.
  if (w.__tandemWidget) return;
  w.__tandemWidget = true;

  var PROTOCOL = 1;

  /* ------------------------------------------------------------------ configuration */

  function attr(name) {
    var v = script && script.getAttribute('data-' + name);
    return v == null || v === '' ? null : v;
  }

  function originOf(url) {
    try {
      return new URL(url, location.href).origin;
    } catch (e) {
      return '';
    }
  }

  // The server defaults to wherever widget.js itself was loaded from.
  var server = (attr('server') || originOf(script && script.src) || location.origin).replace(/\/+$/, '');
  var wsUrl = server.replace(/^http/i, 'ws') + '/ws/chat';
  var lang = (attr('locale') || navigator.language || 'en').toLowerCase().indexOf('zh') === 0 ? 'zh' : 'en';
  var side = attr('position') === 'left' ? 'left' : 'right';
  var accent = attr('accent');
  if (!accent || !(w.CSS && CSS.supports && CSS.supports('color', accent))) accent = '#4f46e5';
  // The server's `max_message_chars` (2,000 by default); a server configured otherwise can say so.
  var maxChars = parseInt(attr('max-chars'), 10) || 2000;

  /* ------------------------------------------------------------------ strings */

  var STRINGS = {
    en: {
      title: 'Support',
      subtitle: 'Ask us anything. A person is a click away.',
      greeting: 'Hi! How can we help you today?',
      openChat: 'Open chat',
      openChatUnread: 'Open chat, {n} unread',
      closeChat: 'Close chat',
      close: 'Close',
      human: 'Talk to a person',
      humanRequest: "I'd like to talk to a person.",
      placeholder: 'Write a message…',
      send: 'Send',
      you: 'You',
      agent: 'Agent',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting… your messages will be sent when we are back.',
      sending: 'Sending…',
      notSent: 'Not sent',
      helpful: 'Was this helpful?',
      helpfulYes: 'Helpful',
      helpfulNo: 'Not helpful',
      thanksVote: 'Thanks for the feedback!',
      related: 'Related questions',
      typing: '{name} is typing…',
      waiting: 'Waiting for a person',
      position: 'You are #{n} in line',
      next: 'You are next',
      wait: 'about {n} min',
      soon: 'under a minute',
      withAgent: 'You are chatting with {name}',
      offlineTitle: 'Leave us a message',
      email: 'Your email',
      message: 'Your message',
      leaveSend: 'Send message',
      badEmail: 'Please enter a valid email address.',
      emptyText: 'Please write a message.',
      opensAt: 'We are back {time}.',
      rateTitle: 'Rate this conversation',
      star: '{n} out of 5',
      comment: 'Anything to add? (optional)',
      rateSend: 'Send rating',
      rated: 'Thanks for rating us!',
      tooLong: 'That message is too long. Please keep it under {n} characters.',
      tooLongServer: 'That message is too long. Please shorten it and send it again.',
      rateLimited: 'You are sending messages quickly; we will retry in a moment.',
      failed: 'Something went wrong. Please try again.',
      busy: 'Our assistant is busy; your message is saved and will be answered in a moment.',
      unsupported: 'This chat needs an update. Please reload the page.',
      endChat: 'End chat',
      endConfirm: 'Click again to end the chat',
      ended: 'Chat ended. Write again any time.',
      powered: 'Powered by tandem'
    },
    zh: {
      title: '在线客服',
      subtitle: '有问题随时问，也可以随时转人工。',
      greeting: '你好！有什么可以帮你？',
      openChat: '打开聊天',
      openChatUnread: '打开聊天，{n} 条未读',
      closeChat: '关闭聊天',
      close: '关闭',
      human: '转人工',
      humanRequest: '我想和人工客服交谈。',
      placeholder: '输入消息…',
      send: '发送',
      you: '你',
      agent: '客服',
      connecting: '正在连接…',
      reconnecting: '正在重新连接… 恢复后会自动发送你的消息。',
      sending: '发送中…',
      notSent: '未发送',
      helpful: '这个回答有帮助吗？',
      helpfulYes: '有帮助',
      helpfulNo: '没有帮助',
      thanksVote: '感谢你的反馈！',
      related: '相关问题',
      typing: '{name} 正在输入…',
      waiting: '正在等待人工客服',
      position: '你排在第 {n} 位',
      next: '下一位就是你',
      wait: '约 {n} 分钟',
      soon: '不到 1 分钟',
      withAgent: '{name} 正在为你服务',
      offlineTitle: '给我们留言',
      email: '你的邮箱',
      message: '留言内容',
      leaveSend: '发送留言',
      badEmail: '请输入有效的邮箱地址。',
      emptyText: '请输入留言内容。',
      opensAt: '我们将于 {time} 恢复服务。',
      rateTitle: '为本次对话评分',
      star: '{n} 星（满分 5 星）',
      comment: '还有什么想说的？（选填）',
      rateSend: '提交评价',
      rated: '感谢你的评价！',
      tooLong: '消息太长了，请控制在 {n} 个字符以内。',
      tooLongServer: '消息太长了，请缩短后重新发送。',
      rateLimited: '发送太频繁，稍后会自动重试。',
      failed: '出了点问题，请重试。',
      busy: '助手正忙，您的消息已保存，稍后就会回复。',
      unsupported: '聊天组件需要更新，请刷新页面。',
      endChat: '结束对话',
      endConfirm: '再次点击以结束对话',
      ended: '对话已结束，随时可以再联系我们。',
      powered: '由 tandem 提供支持'
    }
  };

  function t(key, vars) {
    var s = STRINGS[lang][key] || STRINGS.en[key];
    return vars ? s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; }) : s;
  }

  var title = attr('title') || t('title');
  var greeting = attr('greeting') || t('greeting');

  /* ------------------------------------------------------------------ storage */

  // Namespaced by server origin so two tandem servers on one site keep separate conversations.
  var KEY = 'tandem:' + originOf(server);

  function readStore(area) {
    try {
      return JSON.parse(w[area].getItem(KEY)) || {};
    } catch (e) {
      return {}; // storage disabled (private mode, sandboxed frame): the widget still works
    }
  }

  // token: the resume token. pending: client frames sent but not acknowledged (resent with the
  // same client_id after a reload, so nothing typed is lost and nothing is stored twice).
  // votes / rated / left: what the customer already did on replayed answers, CSAT and offline
  // prompts, so a reload does not ask again. unread: the launcher badge.
  var store = readStore('localStorage');
  store.pending = store.pending || [];
  store.votes = store.votes || {};
  store.rated = store.rated || {};
  store.left = store.left || {};
  store.unread = store.unread || 0;

  function save() {
    try {
      w.localStorage.setItem(KEY, JSON.stringify(store));
    } catch (e) { /* see readStore */ }
  }

  // Whether the panel was open lives per tab: reopening it in every new tab would be intrusive.
  function saveOpen(v) {
    try {
      w.sessionStorage.setItem(KEY, JSON.stringify({ open: v }));
    } catch (e) { /* see readStore */ }
  }

  /* ------------------------------------------------------------------ CSS */

  var CSS_TEXT = [
    ':host{all:initial}',
    '.tw,.tw *,.tw *::before,.tw *::after{box-sizing:border-box}',
    '.tw{--accent:#4f46e5;--on:#fff;--ink:#4f46e5;--tint:rgba(255,255,255,.18);--line:#e4e7ec;--muted:#5b6270;',
    'font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;',
    'color:#1b1f27;text-align:left;letter-spacing:normal;-webkit-font-smoothing:antialiased}',
    '[hidden]{display:none!important}',
    'button,input,textarea{font:inherit;color:inherit;margin:0}',
    'button{cursor:pointer;background:none;border:0;padding:0}',
    'button:disabled{cursor:default}',
    ':focus{outline:none}',
    ':focus-visible{outline:2px solid var(--ink);outline-offset:2px}',
    'svg{display:block;width:20px;height:20px;flex:none}',
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',

    /* launcher */
    '.launcher{position:fixed;bottom:20px;z-index:2147483000;width:58px;height:58px;border-radius:50%;',
    'background:var(--accent);color:var(--on);display:grid;place-items:center;',
    'box-shadow:0 6px 24px rgba(16,24,40,.22),0 2px 6px rgba(16,24,40,.12);transition:transform .15s ease}',
    '.launcher:hover{transform:scale(1.06)}',
    '.launcher svg{width:26px;height:26px}',
    '.right .launcher{right:20px}.left .launcher{left:20px}',
    '.badge{position:absolute;top:-3px;right:-3px;min-width:21px;height:21px;padding:0 6px;border-radius:11px;',
    'background:#d92d20;color:#fff;font-size:11px;font-weight:700;line-height:17px;text-align:center;border:2px solid #fff}',

    /* panel */
    '.panel{position:fixed;bottom:92px;z-index:2147483000;width:380px;height:min(680px,calc(100vh - 116px));',
    'display:flex;flex-direction:column;background:#fff;border-radius:18px;overflow:hidden;',
    'box-shadow:0 16px 56px rgba(16,24,40,.2),0 3px 10px rgba(16,24,40,.08);animation:pop .2s ease-out}',
    '.right .panel{right:20px;transform-origin:bottom right}.left .panel{left:20px;transform-origin:bottom left}',
    '@keyframes pop{from{opacity:0;transform:translateY(12px) scale(.97)}to{opacity:1;transform:none}}',
    '.head{background:var(--accent);color:var(--on);padding:14px 10px 14px 16px;display:flex;align-items:flex-start;gap:12px}',
    '.head :focus-visible{outline-color:var(--on)}',
    '.avatar{width:38px;height:38px;border-radius:50%;background:var(--tint);display:grid;place-items:center;flex:none}',
    '.titles{flex:1;min-width:0}',
    '.titles h2{margin:0;font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.titles p{margin:2px 0 0;font-size:13px;opacity:.92;line-height:1.35}',
    '.human{display:inline-flex;align-items:center;gap:6px;margin-top:10px;padding:6px 12px 6px 10px;border-radius:999px;',
    'background:var(--tint);box-shadow:inset 0 0 0 1px var(--edge);font-size:13px;font-weight:600;white-space:nowrap}',
    '.human:hover,.x:hover{filter:brightness(1.08)}',
    '.human svg{width:16px;height:16px}',
    '.x{width:34px;height:34px;margin-top:2px;border-radius:50%;display:grid;place-items:center;flex:none}',
    '.x:hover{background:var(--tint)}',
    '.status{padding:6px 14px;font-size:12.5px;background:#fff4e0;color:#7a4b00;text-align:center}',
    '.queue{display:flex;align-items:center;gap:8px;padding:9px 16px;font-size:13px;background:#f2f4f7;',
    'color:#344054;border-bottom:1px solid var(--line)}',
    '.queue::before{content:"";width:8px;height:8px;border-radius:50%;background:#f79009;flex:none;animation:pulse 1.6s infinite}',
    '.queue.agent::before{background:#12b76a;animation:none}',
    '.queue.flash{animation:flash .6s}',
    '@keyframes pulse{50%{opacity:.35}}',
    '@keyframes flash{50%{background:#e0e7ff}}',

    /* transcript */
    '.scroll{position:relative;flex:1;overflow-y:auto;background:#f7f8fa;padding:16px 14px 8px;overscroll-behavior:contain}',
    '.log{display:flex;flex-direction:column;gap:10px}',
    '.row{display:flex;flex-direction:column;align-items:flex-start;max-width:100%}',
    '.row.me{align-items:flex-end}',
    '.name{font-size:12px;color:var(--muted);margin:0 0 3px 4px;font-weight:600}',
    '.row.bot+.row.bot>.name,.row.agent+.row.agent>.name{display:none}',
    '.bubble{max-width:86%;padding:9px 13px;border-radius:16px;background:#fff;border:1px solid var(--line);',
    'border-bottom-left-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}',
    '.bubble.html{white-space:normal}',
    '.bubble.html>:first-child{margin-top:0}.bubble.html>:last-child{margin-bottom:0}',
    '.bubble p{margin:0 0 .6em}.bubble ul,.bubble ol{margin:.3em 0 .6em;padding-left:1.3em}',
    '.bubble a{color:var(--ink);text-decoration:underline}',
    '.bubble code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f2f4f7;padding:1px 4px;border-radius:4px}',
    '.me .bubble{background:var(--accent);color:var(--on);border-color:transparent;border-radius:16px;border-bottom-right-radius:6px}',
    '.me .bubble a{color:inherit}',
    '.agent .bubble{background:#fff;border-color:#d0d5dd}',
    '.me.pending .bubble{opacity:.65}',
    '.me.failed .bubble{opacity:.5}.me.failed .meta{color:#b42318}',
    '.meta{font-size:11.5px;color:var(--muted);margin:3px 6px 0}',
    '.notice{align-self:center;max-width:92%;text-align:center;font-size:12.5px;color:var(--muted);',
    'background:#eceef2;padding:5px 12px;border-radius:999px}',
    '.notice.err{background:#fef3f2;color:#b42318}',
    '.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px;max-width:92%}',
    '.chip{padding:7px 13px;border-radius:999px;border:1px solid var(--ink);color:var(--ink);background:#fff;',
    'font-size:13px;line-height:1.3;text-align:left;transition:background .12s}',
    '.chip:hover{background:#f2f4f7}',
    '.rel{margin-top:8px;width:86%;background:#fff;border:1px solid var(--line);border-radius:14px;overflow:hidden}',
    '.rel h3{margin:0;padding:8px 12px 4px;font-size:11.5px;font-weight:650;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}',
    '.rel button{display:flex;align-items:center;justify-content:space-between;gap:8px;width:100%;padding:8px 12px;',
    'text-align:left;font-size:13.5px;color:var(--ink);border-top:1px solid #f0f1f3}',
    '.rel button:first-of-type{border-top:0}',
    '.rel button:hover{background:#f7f8fa}',
    '.rel svg{width:16px;height:16px;opacity:.7}',
    '.fb{display:flex;align-items:center;gap:4px;margin:5px 0 0 4px;font-size:12px;color:var(--muted)}',
    '.fb span{margin-right:4px}',
    '.fb button{width:30px;height:30px;border-radius:50%;display:grid;place-items:center;color:var(--muted)}',
    '.fb button:hover{background:#eceef2}',
    '.fb button[aria-pressed=true]{background:var(--accent);color:var(--on)}',
    '.fb svg{width:16px;height:16px}',
    '.flip{transform:rotate(180deg)}',
    '.card{width:86%;margin-top:8px;background:#fff;border:1px solid var(--line);border-radius:14px;padding:12px;',
    'display:flex;flex-direction:column;gap:8px}',
    '.card h3{margin:0;font-size:14px;font-weight:650}',
    '.card label{font-size:12px;font-weight:600;color:#344054;display:flex;flex-direction:column;gap:4px}',
    '.card input,.card textarea{width:100%;border:1px solid #d0d5dd;border-radius:10px;padding:8px 10px;',
    'font-size:14px;background:#fff;resize:vertical;font-weight:400}',
    '.card input:focus,.card textarea:focus{border-color:var(--ink);box-shadow:0 0 0 3px rgba(16,24,40,.08)}',
    '.card .err{margin:0;font-size:12px;color:#b42318}',
    '.done{font-size:13px;color:#05603a;background:#ecfdf3;border-radius:10px;padding:8px 10px;margin:0}',
    '.btn{align-self:flex-start;padding:8px 16px;border-radius:10px;background:var(--accent);color:var(--on);font-weight:600;font-size:13.5px}',
    '.btn:disabled{opacity:.45}',
    '.stars{display:flex;gap:2px}',
    '.stars button{width:36px;height:36px;display:grid;place-items:center;border-radius:8px;color:#c4c9d2}',
    '.stars button.on{color:#f5a300}',
    '.stars svg{width:28px;height:28px}',
    '.typing{display:flex;align-items:center;gap:8px;margin-top:10px;font-size:12px;color:var(--muted)}',
    '.dots{display:flex;gap:4px;padding:11px 13px;background:#fff;border:1px solid var(--line);border-radius:16px;border-bottom-left-radius:6px}',
    '.dots i{width:6px;height:6px;border-radius:50%;background:#98a2b3;animation:bounce 1.2s infinite}',
    '.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}',
    '@keyframes bounce{0%,60%,100%{transform:none;opacity:.6}30%{transform:translateY(-4px);opacity:1}}',

    /* composer */
    '.composer:focus-within{box-shadow:inset 0 2px 0 var(--ink)}',
    '.composer textarea:focus-visible{outline:none}',
    '.composer{display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 14px;border-top:1px solid var(--line);background:#fff}',
    '.composer textarea{flex:1;border:0;resize:none;padding:8px 0;max-height:120px;min-height:36px;font-size:14.5px;line-height:1.4;background:transparent}',
    '.composer textarea::placeholder{color:#6b7280}',
    '.send{width:38px;height:38px;border-radius:50%;background:var(--accent);color:var(--on);display:grid;place-items:center;flex:none;transition:opacity .15s}',
    '.send:disabled{opacity:.35}',
    '.send svg{width:18px;height:18px}',
    '.foot{display:flex;align-items:center;gap:10px;padding:0 14px 8px;font-size:11.5px;color:var(--muted);background:#fff}',
    '.foot .count{margin-left:auto}',
    '.foot .count.over{color:#b42318;font-weight:600}',
    // 44 px tall: a thumb's tap target (WCAG 2.5.5), not the 17 px of its text.
    '.end{color:var(--muted);text-decoration:underline;font-size:11.5px;min-height:44px;padding:0 8px;display:inline-flex;align-items:center}',

    /* phones: the panel takes the whole screen */
    '@media (max-width:479px){',
    '.panel{inset:0;width:100%;height:100%;border-radius:0;bottom:0}',
    '.head{padding-top:max(12px,env(safe-area-inset-top))}.titles p{display:none}.human{margin-top:8px}',
    '.foot{padding-bottom:max(8px,env(safe-area-inset-bottom))}',
    '.right .panel,.left .panel{right:0;left:0}',
    '.open .launcher{display:none}',
    '.composer textarea{font-size:16px}', // below 16px iOS zooms the page on focus
    '.bubble,.rel,.card{max-width:90%}}',
    '@media (prefers-reduced-motion:reduce){.tw *{animation:none!important;transition:none!important}}'
  ].join('');

  /* ------------------------------------------------------------------ DOM helpers */

  // Creates an element. `text` sets textContent: the only way strings from the server or the
  // customer reach the page (besides the answer HTML, see renderAnswer).
  function h(tag, props, kids) {
    var el = d.createElement(tag);
    for (var k in props || {}) {
      var v = props[k];
      if (v == null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    (kids || []).forEach(function (c) {
      if (c) el.appendChild(c);
    });
    return el;
  }

  // Icons are constant markup written here, never data, so innerHTML is fine for them.
  var ICONS = {
    chat: '<path fill="currentColor" d="M4 6.5A3.5 3.5 0 0 1 7.5 3h9A3.5 3.5 0 0 1 20 6.5v6a3.5 3.5 0 0 1-3.5 3.5H11l-4.4 3.7c-.6.5-1.6.1-1.6-.7V16a3.5 3.5 0 0 1-1-2.5z"/>',
    down: '<path d="M6 9l6 6 6-6" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/>',
    x: '<path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
    send: '<path fill="currentColor" d="M3.5 20.2 21 12 3.5 3.8 3.5 10.2l11 1.8-11 1.8z"/>',
    person: '<g fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><circle cx="12" cy="8" r="3.6"/><path d="M4.8 20c.6-3.6 3.6-5.6 7.2-5.6s6.6 2 7.2 5.6"/></g>',
    thumb: '<path d="M7 10.5V20H4.5a1 1 0 0 1-1-1v-7.5a1 1 0 0 1 1-1zm0 0 3.6-6.6c.3-.5.9-.8 1.5-.6 1 .3 1.6 1.3 1.4 2.3l-.6 3.4h5.3a2 2 0 0 1 2 2.4l-1.3 6.5a2.5 2.5 0 0 1-2.5 2.1H7" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>',
    star: '<path fill="currentColor" d="M12 2.8l2.8 5.8 6.4.9-4.6 4.4 1.1 6.3L12 17.2l-5.7 3 1.1-6.3L2.8 9.5l6.4-.9z"/>',
    arrow: '<path d="M5 12h14M13 6l6 6-6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>'
  };

  function icon(name, cls) {
    var s = d.createElement('span');
    s.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">' + ICONS[name] + '</svg>';
    if (cls) s.firstChild.setAttribute('class', cls);
    return s.firstChild;
  }

  // Plain text with web links made clickable, built node by node (no HTML parsing).
  function linkify(el, text) {
    var re = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]']/g;
    var at = 0;
    var m;
    while ((m = re.exec(text))) {
      el.appendChild(d.createTextNode(text.slice(at, m.index)));
      el.appendChild(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer', text: m[0] }));
      at = m.index + m[0].length;
    }
    el.appendChild(d.createTextNode(text.slice(at)));
    return el;
  }

  // Counts characters the way the server does (Unicode scalar values, not UTF-16 units).
  function charCount(s) {
    return Array.from ? Array.from(s).length : s.length;
  }

  function newId() {
    return 'm-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  /* ------------------------------------------------------------------ building the UI */

  var ui = {};
  var isOpen = false;

  function build() {
    var host = h('div', { id: 'tandem-widget' });
    var root = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet is not inline CSS, so a host page whose Content-Security-Policy
    // forbids 'unsafe-inline' styles still shows the widget styled; older browsers get <style>.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS_TEXT);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(h('style', { text: CSS_TEXT }));
    }

    ui.composer = h('textarea', {
      rows: '1', placeholder: t('placeholder'), 'aria-label': t('placeholder'),
      'aria-describedby': 'tw-count', 'data-testid': 'composer',
      oninput: onComposerInput, onkeydown: onComposerKey, onfocus: ensureConnected
    });
    ui.send = h('button', { type: 'submit', class: 'send', 'aria-label': t('send'), 'data-testid': 'send', disabled: true },
      [icon('send')]);
    ui.count = h('span', { class: 'count', id: 'tw-count', 'aria-live': 'polite' });
    ui.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': title, 'data-testid': 'log' });
    ui.typingText = h('span');
    ui.typing = h('div', { class: 'typing', 'data-testid': 'typing', hidden: true },
      [h('div', { class: 'dots', 'aria-hidden': 'true' }, [h('i'), h('i'), h('i')]), ui.typingText]);
    ui.scroll = h('div', { class: 'scroll' }, [ui.log, ui.typing]);
    ui.status = h('div', { class: 'status', role: 'status', 'data-testid': 'status', 'data-state': 'idle', hidden: true });
    ui.queue = h('div', { class: 'queue', role: 'status', 'data-testid': 'handoff-status', hidden: true });
    ui.human = h('button', { type: 'button', class: 'human', 'data-testid': 'human', onclick: requestHuman },
      [icon('person'), h('span', { text: t('human') })]);
    ui.close = h('button', { type: 'button', class: 'x', 'aria-label': t('close'), 'data-testid': 'close', onclick: close },
      [icon('x')]);

    ui.panel = h('section', {
      class: 'panel', id: 'tw-panel', role: 'dialog', 'aria-label': title, 'data-testid': 'panel', hidden: true
    }, [
      h('header', { class: 'head' }, [
        h('div', { class: 'avatar' }, [icon('chat')]),
        h('div', { class: 'titles' }, [h('h2', { text: title }), h('p', { text: t('subtitle') }), ui.human]),
        ui.close
      ]),
      ui.status,
      ui.queue,
      ui.scroll,
      h('form', { class: 'composer', onsubmit: onSubmit }, [ui.composer, ui.send]),
      h('div', { class: 'foot' }, [
        h('span', { text: t('powered') }),
        ui.end = h('button', { type: 'button', class: 'end', 'data-testid': 'end', onclick: endChat, text: t('endChat') }),
        ui.count
      ])
    ]);

    ui.badge = h('span', { class: 'badge', 'data-testid': 'badge', 'aria-hidden': 'true', hidden: true });
    ui.launchIcon = h('span', { 'aria-hidden': 'true' });
    ui.launcher = h('button', {
      type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'tw-panel',
      'data-testid': 'launcher', onclick: function () {
        if (isOpen) close(); else open();
      }
    }, [ui.launchIcon, ui.badge]);

    ui.root = h('div', { class: 'tw ' + side }, [ui.panel, ui.launcher]);
    root.appendChild(ui.root);
    d.body.appendChild(host);
    // Escape closes the panel when focus is in it (events from the shadow root are retargeted to
    // the host) or nowhere in particular; never when the page's own controls have focus.
    d.addEventListener('keydown', function (e) {
      var tg = e.target;
      if (isOpen && e.key === 'Escape' && (tg === host || tg === d.body || tg === d.documentElement)) close();
    });

    applyColours(root);
    ui.greeting = h('div', { class: 'row bot' }, [
      h('div', { class: 'name', text: title }),
      h('div', { class: 'bubble', 'data-testid': 'greeting', text: greeting })
    ]);
    ui.log.appendChild(ui.greeting);
    paintLauncher();
    updateCount();
  }

  // Text on the accent colour must stay readable (WCAG AA) whatever colour the site picked:
  // white or near-black, whichever contrasts more; links use a darker ink when the accent is light.
  function applyColours(root) {
    // Set through the CSSOM rather than a style attribute, which a strict CSP would block.
    var probe = h('span');
    probe.style.color = accent;
    root.appendChild(probe);
    var rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || [79, 70, 229]).slice(0, 3).map(Number);
    probe.remove();
    var lum = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    var onWhite = 1.05 / (lum + 0.05);
    var onDark = (lum + 0.05) / 0.05;
    var style = ui.root.style;
    style.setProperty('--accent', accent);
    style.setProperty('--on', onWhite >= onDark ? '#fff' : '#111827');
    // Header buttons: white text sits on a darker tint, dark text on a lighter one, so the
    // contrast only improves on the accent's own.
    style.setProperty('--tint', onWhite >= onDark ? 'rgba(0,0,0,.16)' : 'rgba(255,255,255,.4)');
    style.setProperty('--edge', onWhite >= onDark ? 'rgba(255,255,255,.3)' : 'rgba(0,0,0,.16)');
    style.setProperty('--ink', onWhite >= 4.5 ? accent : '#1d2939');
  }

  function lin(c) {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  }

  function paintLauncher() {
    ui.launchIcon.textContent = '';
    ui.launchIcon.appendChild(icon(isOpen ? 'down' : 'chat'));
    ui.launcher.setAttribute('aria-expanded', String(isOpen));
    var n = store.unread;
    ui.launcher.setAttribute('aria-label', isOpen ? t('closeChat') : n ? t('openChatUnread', { n: n }) : t('openChat'));
    ui.badge.hidden = isOpen || !n;
    ui.badge.textContent = n > 9 ? '9+' : String(n);
    ui.root.classList.toggle('open', isOpen);
  }

  function open(quiet) {
    if (!ui.panel) return;
    if (!isOpen) {
      isOpen = true;
      ui.panel.hidden = false;
      store.unread = 0;
      save();
      saveOpen(true);
      paintLauncher();
      scrollDown(true);
    }
    ensureConnected();
    if (!quiet) ui.composer.focus();
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    ui.panel.hidden = true;
    saveOpen(false);
    stopTyping();
    paintLauncher();
    ui.launcher.focus();
  }

  function setStatus(state) {
    ui.status.setAttribute('data-state', state);
    var text = state === 'connecting' ? t('connecting') : state === 'reconnecting' ? t('reconnecting') : '';
    ui.status.textContent = text;
    ui.status.hidden = !text;
  }

  function atBottom() {
    var s = ui.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  // Follows new messages unless the customer scrolled up to read something earlier (`stick` is
  // whether the view was at the bottom before the new content came in).
  function scrollDown(force, stick) {
    if (force || (stick == null ? atBottom() : stick)) ui.scroll.scrollTop = ui.scroll.scrollHeight;
  }

  /* ------------------------------------------------------------------ the transcript */

  // Unacknowledged customer messages stay at the bottom; everything numbered goes above them.
  function insert(el, force) {
    var stick = atBottom();
    ui.log.insertBefore(el, ui.log.querySelector('.row.pending'));
    scrollDown(force, stick);
    // A long answer is read from its start: never scroll its first line out of view.
    if (stick && !force && !replaying && el.offsetTop - 12 < ui.scroll.scrollTop) ui.scroll.scrollTop = el.offsetTop - 12;
    return el;
  }

  function botRow(testid, text) {
    var bubble = h('div', { class: 'bubble', 'data-testid': testid });
    if (text != null) linkify(bubble, text);
    var r = h('div', { class: 'row bot' }, [h('div', { class: 'name', text: title }), bubble]);
    r.bubble = bubble;
    return r;
  }

  function notice(text, isError) {
    return insert(h('div', { class: 'notice' + (isError ? ' err' : ''), 'data-testid': 'msg-notice', text: text }));
  }

  // The customer's own bubble: pending (not acknowledged yet) or stored (with its seq).
  function customerRow(text, clientId, seq) {
    // Buttons offered before the customer spoke are answered now (or moot): remove them.
    ui.log.querySelectorAll('.chips,.rel').forEach(function (el) {
      el.remove();
    });
    var r = h('div', { class: 'row me' + (seq ? '' : ' pending'), 'data-client-id': clientId, 'data-seq': seq && String(seq) }, [
      h('span', { class: 'sr', text: t('you') + ':' }),
      linkify(h('div', { class: 'bubble', 'data-testid': 'msg-customer' }), text),
      seq ? null : h('div', { class: 'meta', text: t('sending') })
    ]);
    if (seq) insert(r, true);
    else {
      ui.log.appendChild(r);
      scrollDown(true);
    }
    return r;
  }

  function confirmRow(r, seq) {
    if (!r.classList.contains('pending')) return;
    r.classList.remove('pending');
    r.setAttribute('data-seq', seq);
    var meta = r.querySelector('.meta');
    if (meta) meta.remove();
    insert(r); // moves it above any messages still pending
  }

  function findRow(clientId) {
    var rows = ui.log.querySelectorAll('.row.me');
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute('data-client-id') === clientId) return rows[i];
    return null;
  }

  function chips(parent, list, testid) {
    if (!list || !list.length) return;
    parent.appendChild(h('div', { class: 'chips' }, list.map(function (c) {
      return h('button', { type: 'button', class: 'chip', 'data-testid': testid, text: c.label, onclick: function () {
        choose(c);
      } });
    })));
  }

  function related(parent, list) {
    if (!list || !list.length) return;
    parent.appendChild(h('div', { class: 'rel' }, [h('h3', { text: t('related') })].concat(list.map(function (c) {
      return h('button', { type: 'button', 'data-testid': 'related', onclick: function () {
        choose(c);
      } }, [h('span', { text: c.label }), icon('arrow')]);
    }))));
  }

  function feedbackRow(parent, seq) {
    var q = h('span');
    var yes = h('button', { type: 'button', 'aria-label': t('helpfulYes'), title: t('helpfulYes'), 'data-testid': 'helpful-yes' },
      [icon('thumb')]);
    var no = h('button', { type: 'button', 'aria-label': t('helpfulNo'), title: t('helpfulNo'), 'data-testid': 'helpful-no' },
      [icon('thumb', 'flip')]);
    function paint() {
      var v = store.votes[seq];
      yes.setAttribute('aria-pressed', String(v === true));
      no.setAttribute('aria-pressed', String(v === false));
      q.textContent = v == null ? t('helpful') : t('thanksVote');
    }
    function vote(helpful) {
      // A second vote replaces the first on the server; a repeat of the same vote is not sent.
      if (store.votes[seq] === helpful) return;
      store.votes[seq] = helpful;
      save();
      paint();
      sendSoon({ type: 'feedback', seq: seq, helpful: helpful });
    }
    yes.onclick = function () { vote(true); };
    no.onclick = function () { vote(false); };
    paint();
    parent.appendChild(h('div', { class: 'fb' }, [q, yes, no]));
  }

  function resetTranscript() {
    Array.prototype.slice.call(ui.log.children).forEach(function (el) {
      if (el !== ui.greeting && !el.classList.contains('pending')) el.remove();
    });
    seen = {};
    lastSeq = 0;
    store.votes = {};
    store.rated = {};
    store.left = {};
    convState = 'bot';
    paintQueue();
    hideTyping();
  }

  /* ------------------------------------------------------------------ queue / handoff status */

  var convState = 'bot'; // bot | queued | agent: who serves the conversation now
  var queuePos = null;
  var queueWait = null;
  var agentName = null;

  function fmtWait(secs) {
    return secs < 60 ? t('soon') : t('wait', { n: Math.round(secs / 60) });
  }

  function joinedBy(name) {
    agentName = name || agentName;
    convState = 'agent';
    paintQueue();
  }

  function paintQueue() {
    var q = ui.queue;
    q.classList.toggle('agent', convState === 'agent');
    if (convState === 'queued') {
      var parts = [t('waiting')];
      if (queuePos) parts.push(queuePos === 1 ? t('next') : t('position', { n: queuePos }));
      if (queueWait != null) parts.push(fmtWait(queueWait));
      q.textContent = parts.join(' · ');
    } else if (convState === 'agent') {
      q.textContent = t('withAgent', { name: agentName || t('agent') });
    }
    q.hidden = convState === 'bot';
    // Asking for a person again while waiting for one, or talking to one, means nothing.
    ui.human.hidden = convState !== 'bot';
  }

  /* ------------------------------------------------------------------ typing indicators */

  var typingHide = 0;

  function showTyping(who) {
    var stick = atBottom();
    ui.typingText.textContent = t('typing', { name: who === 'agent' ? agentName || t('agent') : title });
    ui.typing.setAttribute('data-who', who);
    ui.typing.hidden = false;
    scrollDown(false, stick);
    // A lost "stopped typing" must not leave the dots on forever.
    clearTimeout(typingHide);
    typingHide = setTimeout(hideTyping, 20000);
  }

  function hideTyping(who) {
    if (who && ui.typing.getAttribute('data-who') !== who) return;
    ui.typing.hidden = true;
    clearTimeout(typingHide);
  }

  // The customer's own typing, told to the agent: "started" once, "stopped" after 3 s of quiet.
  var typingOn = false;
  var typingTimer = 0;

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) {
      typingOn = false;
      if (ready()) raw({ type: 'typing', active: false });
    }
  }

  /* ------------------------------------------------------------------ composer */

  function updateCount() {
    var n = charCount(ui.composer.value);
    var over = n > maxChars;
    // The counter appears near the limit only, so it does not distract.
    ui.count.textContent = n > maxChars * 0.8 ? n + ' / ' + maxChars : '';
    ui.count.classList.toggle('over', over);
    ui.composer.setAttribute('aria-invalid', String(over));
    ui.send.disabled = over || !ui.composer.value.trim();
  }

  function onComposerInput() {
    var c = ui.composer;
    c.style.height = 'auto';
    c.style.height = Math.min(c.scrollHeight, 120) + 'px';
    updateCount();
    if (c.value.trim()) {
      if (!typingOn && ready()) {
        typingOn = true;
        raw({ type: 'typing', active: true });
      }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, 3000);
    } else stopTyping();
  }

  function onComposerKey(e) {
    // Enter sends, Shift+Enter is a new line; Enter that confirms an IME composition (Chinese
    // input) must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      onSubmit();
    }
  }

  function onSubmit(e) {
    if (e) e.preventDefault();
    var text = ui.composer.value.trim();
    if (!text) return;
    if (charCount(text) > maxChars) {
      updateCount();
      return;
    }
    ui.composer.value = '';
    onComposerInput();
    stopTyping();
    queueFrame({ type: 'message', client_id: newId(), text: text }, text);
  }

  /* ------------------------------------------------------------------ customer actions */

  // Frames the server acknowledges (message, choose, request_human, leave_message) are kept in
  // localStorage until their ack, shown as pending, and resent with the same client_id after a
  // reconnect or a reload: the server stores each client_id once.
  function queueFrame(frame, text) {
    store.pending.push(frame);
    save();
    customerRow(text, frame.client_id);
    flush();
    ensureConnected();
  }

  function choose(c) {
    queueFrame({ type: 'choose', client_id: newId(), choice_id: c.id, label: c.label }, c.label);
    // The button just pressed is gone with its row of choices: keep the keyboard in the chat
    // (the composer) instead of dropping focus to the page's <body>.
    ui.composer.focus();
  }

  function requestHuman() {
    open(true);
    // Already with (or waiting for) a person: asking again changes nothing, so just point at it.
    if (convState !== 'bot') {
      ui.queue.classList.remove('flash');
      void ui.queue.offsetWidth;
      ui.queue.classList.add('flash');
      return;
    }
    queueFrame({ type: 'request_human', client_id: newId() }, t('humanRequest'));
  }

  // Ending loses the transcript, so the first click only asks; a second one within 4 s ends it.
  var endArmed = 0;

  function endChat() {
    var btn = ui.end;
    if (!endArmed) {
      btn.textContent = t('endConfirm');
      endArmed = setTimeout(function () {
        endArmed = 0;
        btn.textContent = t('endChat');
      }, 4000);
      return;
    }
    clearTimeout(endArmed);
    endArmed = 0;
    btn.textContent = t('endChat');
    if (ready()) raw({ type: 'close' });
    ended = true;
    dropSocket();
    store = { pending: [], votes: {}, rated: {}, left: {}, unread: 0 };
    save();
    Array.prototype.slice.call(ui.log.children).forEach(function (el) {
      if (el !== ui.greeting) el.remove();
    });
    resetTranscript();
    notice(t('ended'));
    setStatus('idle');
  }

  /* ------------------------------------------------------------------ server frames */

  var seen = {};
  var lastSeq = 0; // everything up to here was received (the `last_seq` of the next hello)
  var replayTarget = 0; // welcome.last_seq: numbered frames up to it are replayed history
  var replaying = false;
  var replayTimer = 0;
  var leaveCards = {}; // client_id of a leave_message -> its form, to confirm on ack
  // A frame's text into its bubble: its `html` when the server sent one (answers and agents'
  // replies, both Markdown), the plain text with links otherwise.
  function rich(bubble, f) {
    if (typeof f.html !== 'string') return linkify(bubble, f.text || '');
    bubble.classList.add('html');
    // The one place HTML is inserted: the server sanitised it (docs/protocol.md, `answer`).
    bubble.innerHTML = f.html;
    bubble.querySelectorAll('a[href]').forEach(function (a) {
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    });
    return bubble;
  }

  var UNREAD = { answer: 1, clarify: 1, handoff: 1, agent_message: 1, offline: 1, csat_request: 1, notice: 1 };

  function markSeen(seq) {
    seen[seq] = true;
    while (seen[lastSeq + 1]) lastSeq++;
  }

  function onFrame(f) {
    var fn = HANDLERS[f.type];
    if (!fn) return; // a newer server's frame type: ignore it, as the protocol asks
    var numbered = typeof f.seq === 'number' && f.type !== 'ack';
    if (numbered) {
      if (seen[f.seq]) return; // already shown before the connection dropped
      markSeen(f.seq);
    }
    var live = !(numbered && f.seq <= replayTarget);
    fn(f, live);
    // Unread: new conversation entries while the panel is closed (not replays, not connection notices).
    if (live && UNREAD[f.type] && (numbered || f.type !== 'notice') && !isOpen) {
      store.unread++;
      save();
      paintLauncher();
    }
    if (replaying && lastSeq >= replayTarget) endReplay();
  }

  var HANDLERS = {
    welcome: function (f) {
      attempt = 0;
      welcomed = true;
      if (!f.resumed && (hadConversation || lastSeq > 0)) resetTranscript(); // a new conversation
      hadConversation = true;
      // A new conversation offers the most asked questions under the greeting.
      if (!f.resumed && !ui.greeting.querySelector('.chips')) chips(ui.greeting, f.quick_replies, 'quick-reply');
      store.token = f.resume_token;
      save();
      replayTarget = f.last_seq || 0;
      setStatus('open');
      if (identity && !f.identified && w.console) console.warn('tandem: the identity token did not verify');
      if (lastSeq >= replayTarget) endReplay();
      else {
        replaying = true;
        // Should the replay ever stop short, resending is still safe (client_id dedupes).
        replayTimer = setTimeout(endReplay, 5000);
      }
    },

    ack: function (f) {
      markSeen(f.seq);
      settle(f.client_id, f.seq);
    },

    customer_message: function (f) {
      var r = findRow(f.client_id);
      if (r) confirmRow(r, f.seq);
      else customerRow(f.text, f.client_id, f.seq);
      settle(f.client_id, f.seq);
    },

    answer: function (f) {
      hideTyping('bot');
      if (convState !== 'bot') {
        convState = 'bot'; // an agent handed the conversation back to the bot
        paintQueue();
      }
      var r = botRow('msg-bot');
      rich(r.bubble, f);
      if (f.feedback) feedbackRow(r, f.seq);
      chips(r, f.quick_replies, 'quick-reply');
      related(r, f.related);
      insert(r);
    },

    clarify: function (f) {
      hideTyping('bot');
      var r = botRow('msg-bot', f.text);
      chips(r, f.choices, 'choice');
      insert(r);
    },

    handoff: function (f) {
      hideTyping('bot');
      insert(botRow('msg-bot', f.text));
      convState = 'queued';
      queuePos = f.position || null;
      queueWait = null;
      paintQueue();
    },

    queue_update: function (f) {
      convState = 'queued';
      queuePos = f.position || null;
      queueWait = typeof f.wait_secs === 'number' ? f.wait_secs : null;
      paintQueue();
    },

    agent_message: function (f) {
      hideTyping('agent');
      joinedBy(f.agent_name);
      var bubble = rich(h('div', { class: 'bubble', 'data-testid': 'msg-agent' }), f);
      insert(h('div', { class: 'row agent' }, [h('div', { class: 'name', text: f.agent_name }), bubble]));
    },

    notice: function (f) {
      notice(f.text);
      // A notice that changes who serves the conversation (claim, transfer, resolution,
      // hand-back) carries `serving`: the status line follows at once, not at the next answer.
      if (f.serving === 'agent') joinedBy(f.agent_name);
      else if (f.serving === 'queued') {
        convState = 'queued';
        queuePos = null;
        queueWait = null;
        paintQueue();
      } else if (f.serving === 'bot' || f.serving === 'closed') {
        convState = 'bot';
        paintQueue();
      }
    },

    typing: function (f) {
      // An agent typing means an agent has the conversation, even before their first message.
      if (f.who === 'agent' && f.active && convState === 'queued') joinedBy(agentName);
      if (f.active) showTyping(f.who);
      else hideTyping(f.who);
    },

    offline: function (f) {
      var r = botRow('msg-bot', f.text);
      if (typeof f.opens_at === 'number') {
        var when = new Date(f.opens_at);
        var sameDay = when.toDateString() === new Date().toDateString();
        var time = when.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', sameDay
          ? { hour: 'numeric', minute: '2-digit' }
          : { weekday: 'short', hour: 'numeric', minute: '2-digit' });
        r.bubble.appendChild(h('div', { class: 'meta', text: t('opensAt', { time: time }) }));
      }
      // Only the latest offline prompt keeps a form.
      ui.log.querySelectorAll('[data-testid=offline-form]').forEach(function (el) {
        el.remove();
      });
      // A message was left already: the server's stored thank-you notice says so, once.
      if (!store.left[f.seq]) r.appendChild(offlineForm(f.seq));
      insert(r);
    },

    csat_request: function (f) {
      hideTyping();
      convState = 'bot';
      paintQueue();
      var r = botRow('msg-bot', f.text);
      r.appendChild(store.rated[f.seq] ? h('p', { class: 'done card', text: t('rated') }) : csatCard(f.seq));
      insert(r);
    },

    error: function (f) {
      var code = f.code;
      if (w.console) console.warn('tandem:', code, f.message);
      if (code === 'unsupported_protocol') fatal = true;
      // Busy: the message is stored (it has its ack) and its answer is coming; nothing to resend.
      if (code === 'busy') {
        notice(t('busy'));
        showTyping('bot');
        return;
      }
      notice(code === 'too_large' ? t('tooLongServer')
        : code === 'rate_limited' ? t('rateLimited')
          : code === 'unsupported_protocol' ? t('unsupported') : t('failed'), true);
      // A dropped or failed message was not stored: send what is unacknowledged again, later,
      // with the same client_id (the server keeps the first copy it stored, if any).
      // Refused for good (too long for this server, or malformed): the frame the error answers is
      // the oldest one still in flight (the server answers in order). Resending it would only be
      // refused again, so drop it and give its text back to edit.
      if ((code === 'too_large' || code === 'bad_frame') && inflight.length) drop(inflight[0]);
      if (code === 'rate_limited' || code === 'internal') {
        setTimeout(function () {
          sentOn = {};
          inflight = [];
          flush();
        }, code === 'rate_limited' ? 4000 : 2000);
      }
    }
  };

  function drop(clientId) {
    var was = null;
    store.pending = store.pending.filter(function (p) {
      if (p.client_id === clientId) was = p;
      return p.client_id !== clientId;
    });
    inflight = inflight.filter(function (id) { return id !== clientId; });
    save();
    var r = findRow(clientId);
    if (r) {
      r.classList.remove('pending');
      r.classList.add('failed');
      var meta = r.querySelector('.meta');
      if (meta) meta.textContent = t('notSent');
    }
    if (was && was.type === 'message' && !ui.composer.value) {
      ui.composer.value = was.text;
      onComposerInput();
    }
    var card = leaveCards[clientId];
    if (card) {
      card.sent = false;
      delete store.left[card.offlineSeq];
      save();
      card.querySelector('.btn').textContent = t('leaveSend');
      delete leaveCards[clientId];
    }
  }

  // A client frame was acknowledged (ack, or its customer_message in a replay): forget it.
  function settle(clientId, seq) {
    var was = null;
    inflight = inflight.filter(function (id) { return id !== clientId; });
    store.pending = store.pending.filter(function (p) {
      if (p.client_id === clientId) was = p;
      return p.client_id !== clientId;
    });
    if (!was) return;
    save();
    var r = findRow(clientId);
    if (r) confirmRow(r, seq);
    var card = leaveCards[clientId];
    if (card) {
      // The server's thank-you notice follows the ack: one confirmation, not two.
      removeCard(card);
      delete leaveCards[clientId];
    }
  }

  // A form that was sent goes; focus that was in it goes to the composer rather than falling
  // out of the dialog.
  function removeCard(card) {
    var hadFocus = card.contains(ui.root.getRootNode().activeElement);
    card.remove();
    if (hadFocus) ui.composer.focus();
  }

  // A form done with becomes a thank-you line; focus that was in it goes to the composer rather
  // than falling out of the dialog.
  function replaceCard(card, text) {
    var hadFocus = card.contains(ui.root.getRootNode().activeElement);
    card.replaceWith(h('p', { class: 'done card', role: 'status', text: text }));
    if (hadFocus) ui.composer.focus();
  }

  function offlineForm(seq) {
    var email = h('input', { type: 'email', autocomplete: 'email', required: true, 'data-testid': 'offline-email' });
    var text = h('textarea', { rows: '3', required: true, 'data-testid': 'offline-text' });
    var err = h('p', { class: 'err', role: 'alert' });
    var form = h('form', { class: 'card', 'data-testid': 'offline-form', novalidate: true }, [
      h('h3', { text: t('offlineTitle') }),
      h('label', {}, [h('span', { text: t('email') }), email]),
      h('label', {}, [h('span', { text: t('message') }), text]),
      err,
      h('button', { type: 'submit', class: 'btn', 'data-testid': 'offline-send', text: t('leaveSend') })
    ]);
    form.onsubmit = function (e) {
      e.preventDefault();
      var em = email.value.trim();
      var tx = text.value.trim();
      err.textContent = !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(em) ? t('badEmail')
        : !tx ? t('emptyText') : charCount(tx) > maxChars ? t('tooLong', { n: maxChars }) : '';
      if (err.textContent || form.sent) return;
      form.sent = true; // not `disabled`: disabling the focused button would drop focus
      var frame = { type: 'leave_message', client_id: newId(), email: em, text: tx };
      leaveCards[frame.client_id] = form;
      form.offlineSeq = seq;
      store.left[seq] = true;
      form.querySelector('.btn').textContent = t('sending');
      queueFrame(frame, tx);
    };
    return form;
  }

  function csatCard(seq) {
    var score = 0;
    var stars = [1, 2, 3, 4, 5].map(function (n) {
      return h('button', {
        type: 'button', 'data-testid': 'csat-star', 'data-score': String(n), 'aria-label': t('star', { n: n }),
        'aria-pressed': 'false', onclick: function () {
          score = n;
          paint(n);
          sendBtn.disabled = false;
        },
        onmouseenter: function () { paint(n); },
        onmouseleave: function () { paint(score); }
      }, [icon('star')]);
    });
    function paint(upTo) {
      stars.forEach(function (s, i) {
        s.classList.toggle('on', i < upTo);
        s.setAttribute('aria-pressed', String(i + 1 === score));
      });
    }
    var comment = h('textarea', { rows: '2', 'aria-label': t('comment'), placeholder: t('comment'), 'data-testid': 'csat-comment' });
    var sendBtn = h('button', { type: 'submit', class: 'btn', disabled: true, 'data-testid': 'csat-send', text: t('rateSend') });
    var card = h('form', { class: 'card', 'data-testid': 'csat' }, [
      h('h3', { text: t('rateTitle') }),
      h('div', { class: 'stars', role: 'group', 'aria-label': t('rateTitle') }, stars),
      comment,
      sendBtn
    ]);
    card.onsubmit = function (e) {
      e.preventDefault();
      if (!score) return;
      var frame = { type: 'rate', score: score };
      var c = comment.value.trim();
      if (c) frame.comment = c;
      sendSoon(frame);
      store.rated[seq] = score;
      save();
      replaceCard(card, t('rated'));
    };
    return card;
  }

  /* ------------------------------------------------------------------ the connection */

  var ws = null;
  var connSerial = 0;
  var welcomed = false;
  var attempt = 0;
  var retryTimer = 0;
  var fatal = false; // the server does not speak our protocol: stop trying
  var ended = false; // the customer ended the chat: stay disconnected until they write again
  var identity = null;
  var hadConversation = !!store.token;
  var sentOn = {}; // client_id -> connection it was last sent on: each frame once per connection
  var volatile = []; // feedback and rate frames waiting for a connection (not acknowledged)
  var inflight = []; // client_ids sent on this connection and not acknowledged yet, in order

  function ready() {
    return !!ws && welcomed && !replaying && ws.readyState === 1;
  }

  function raw(frame) {
    ws.send(JSON.stringify(frame));
  }

  function sendSoon(frame) {
    if (ready()) raw(frame);
    else {
      volatile.push(frame);
      ensureConnected();
    }
  }

  function flush() {
    if (!ready()) return;
    store.pending.forEach(function (p) {
      if (sentOn[p.client_id] !== connSerial) {
        sentOn[p.client_id] = connSerial;
        inflight.push(p.client_id);
        raw(p);
      }
    });
    while (volatile.length && ready()) raw(volatile.shift());
  }

  function endReplay() {
    clearTimeout(replayTimer);
    if (replaying) scrollDown(true); // a rebuilt transcript opens at its latest message
    replaying = false;
    flush();
  }

  function ensureConnected() {
    if (ws || fatal || !ui.panel) return;
    ended = false;
    attempt = 0; // the customer is here now: no reason to wait out a long backoff
    connect();
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    setStatus(attempt ? 'reconnecting' : 'connecting');
    var sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch (e) {
      ws = null;
      return retry(1006);
    }
    ws = sock;
    welcomed = false;
    replaying = false;
    inflight = [];
    connSerial++;
    sock.onopen = function () {
      if (sock !== ws) return;
      var hello = { type: 'hello', protocol: PROTOCOL, locale: lang === 'zh' ? 'zh-CN' : 'en' };
      // The page, without query string or fragment: those can carry private tokens.
      hello.page_url = location.origin + location.pathname;
      if (store.token) hello.resume_token = store.token;
      // After a reload the transcript is empty and lastSeq is 0: the whole conversation is replayed.
      if (lastSeq) hello.last_seq = lastSeq;
      if (identity) hello.identity = identity;
      raw(hello);
    };
    sock.onmessage = function (e) {
      if (sock !== ws || typeof e.data !== 'string') return;
      var f;
      try {
        f = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (f && typeof f.type === 'string') onFrame(f);
    };
    sock.onclose = function (e) {
      if (sock !== ws) return;
      ws = null;
      welcomed = false;
      clearTimeout(replayTimer);
      hideTyping();
      typingOn = false;
      retry(e.code);
    };
  }

  function retry(code) {
    if (fatal || ended) return setStatus('idle');
    // 1000: the server closed a quiet conversation (idle timeout). Resume when the customer comes
    // back (opens the panel, focuses the composer, sends) rather than keeping a socket for nobody;
    // unless something is still waiting to be sent.
    if (code === 1000 && !store.pending.length && !volatile.length) return setStatus('idle');
    // Exponential backoff 0.5 s, 1 s, 2 s ... 30 s, plus up to 50% jitter so that a server restart
    // is not met by every widget at the same instant. A policy close (1008) starts slower.
    if (code === 1008 && attempt < 4) attempt = 4;
    var delay = Math.min(30000, 500 * Math.pow(2, attempt));
    delay += Math.random() * delay * 0.5;
    attempt++;
    setStatus('reconnecting');
    retryTimer = setTimeout(connect, delay);
  }

  function dropSocket() {
    var old = ws;
    ws = null;
    welcomed = false;
    clearTimeout(retryTimer);
    if (old) {
      try {
        old.close(1000);
      } catch (e) { /* already closing */ }
    }
  }

  /* ------------------------------------------------------------------ start */

  function init() {
    build();
    // Rebuild the screen from storage: messages still waiting for an ack show as pending.
    store.pending.forEach(function (p) {
      customerRow(p.text || p.label || t('humanRequest'), p.client_id);
    });
    paintLauncher();
    var wasOpen = readStore('sessionStorage').open;
    // A conversation in progress reconnects right away, so agent replies raise the badge even
    // while the panel is closed; a visitor who never opened the chat costs the server nothing.
    if (store.token || store.pending.length) connect();
    if (wasOpen) open(true);

    w.addEventListener('online', function () {
      if (!ws && retryTimer) {
        attempt = 0;
        connect();
      }
    });
    d.addEventListener('visibilitychange', function () {
      if (d.visibilityState === 'visible' && !ws && retryTimer) {
        attempt = 0;
        connect();
      }
    });

    var api = {
      open: function () { open(); },
      close: close,
      // A signed identity from the site's backend (docs/protocol.md, "Customer identity"). It
      // travels in hello, so a live connection is reopened to carry it.
      identify: function (token) {
        identity = token ? String(token) : null;
        if (ws) {
          dropSocket();
          connect();
        } else if (store.token) connect();
      }
    };
    // Calls queued before the script loaded: window.Tandem = [['open'], ['identify', token]].
    var queued = w.Tandem;
    w.Tandem = api;
    if (Array.isArray(queued)) {
      queued.forEach(function (call) {
        if (call && api[call[0]]) api[call[0]].apply(api, call.slice(1));
      });
    }
  }

  if (d.body) init();
  else d.addEventListener('DOMContentLoaded', init);
})();
