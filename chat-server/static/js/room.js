// Beseda — the live room. The page comes with the latest page of history; this script
// follows the chat on the browser WebSocket (/ws/chat/{id}/, the session cookie), appends
// what arrives, sends from the composer, and reconnects by itself with after_seq after a
// drop or a server restart, so no message is lost or shown twice (messages are kept by
// seq). Messages are built with textContent only: whatever they say is shown as text.
(function () {
  "use strict";

  const room = document.getElementById("room");
  if (!room) return;

  const S = JSON.parse(document.getElementById("room-strings").textContent);
  const chatId = room.dataset.chat;
  const me = Number(room.dataset.me);
  const live = room.dataset.live === "true";
  const maxChars = Number(S.max_chars) || 4096;
  let lastSeq = Number(room.dataset.lastSeq) || 0;
  let firstSeq = Number(room.dataset.firstSeq) || 0;

  const list = document.getElementById("messages");
  const timeline = document.getElementById("timeline");
  const empty = document.getElementById("timeline-empty");
  const conn = document.getElementById("conn");
  const connText = conn.querySelector(".conn-text");
  const banner = document.getElementById("room-banner");
  const olderBox = document.getElementById("older");
  const olderLink = document.getElementById("load-older");
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-input");
  const errorBox = document.getElementById("composer-error");
  const sendButton = document.getElementById("composer-send");
  const leaveLink = document.getElementById("leave-link");
  const draftKey = "beseda:draft:" + chatId;

  const shown = new Set();
  list.querySelectorAll(".msg").forEach(function (li) { shown.add(Number(li.dataset.seq)); });

  function fill(text, args) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(args, name) ? String(args[name]) : whole;
    });
  }

  // ── Read markers ───────────────────────────────────────────────────────────────────
  // markSeen(seq) is called with the newest seq the viewer has actually seen (the page is
  // visible and the timeline is scrolled to the bottom): it sends {"type":"read","seq":N}
  // on the socket, which moves the marker (never back) and clears the chat list's badge;
  // the server's {"type":"read",…} events for the user's other tabs arrive in onRead. A read
  // that cannot be sent now (socket down) is sent by the next markSeen after reconnecting.
  let seenUpTo = 0;
  function markSeen(seq) {
    if (seq <= seenUpTo) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "read", seq: seq }));
    seenUpTo = seq;
  }
  function onRead(frame) {
    if (typeof frame.seq === "number" && frame.seq > seenUpTo) seenUpTo = frame.seq;
  }
  // ───────────────────────────────────────────────────────────────────────────────────

  function atBottom() {
    return timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
  }
  function toBottom() {
    timeline.scrollTop = timeline.scrollHeight;
  }
  function seeIfVisible() {
    if (document.visibilityState === "visible" && atBottom() && lastSeq > 0) markSeen(lastSeq);
  }

  // ── Messages ───────────────────────────────────────────────────────────────────────

  function displayName(user) {
    const name = ((user.first_name || "") + " " + (user.last_name || "")).trim();
    return name || user.username;
  }
  function letter(text) {
    const match = (text || "").trim().match(/[\p{L}\p{N}]/u);
    return match ? match[0] : "";
  }
  function initials(user) {
    let letters = letter(user.first_name) + letter(user.last_name);
    if (!letters) {
      letters = (user.username || "").split(/[^\p{L}\p{N}]+/u).map(letter).join("").slice(0, 2);
    }
    return (letters || "?").toUpperCase();
  }
  function hue(id) {
    return ((id % 8) + 8) % 8;
  }

  function buildMessage(m) {
    const li = document.createElement("li");
    li.className = "msg" + (m.user.id === me ? " msg-own" : "");
    li.id = "m" + m.seq;
    li.dataset.seq = String(m.seq);
    li.dataset.user = String(m.user.id);
    const avatar = document.createElement("span");
    avatar.className = "avatar hue-" + hue(m.user.id);
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = initials(m.user);
    const body = document.createElement("div");
    body.className = "msg-body";
    const meta = document.createElement("div");
    meta.className = "msg-meta";
    const author = document.createElement("span");
    author.className = "msg-author";
    author.textContent = displayName(m.user);
    const time = document.createElement("time");
    time.setAttribute("datetime", m.timestamp);
    time.dataset.format = "time";
    if (window.beseda) window.beseda.formatTime(time);
    meta.append(author, time);
    const text = document.createElement("p");
    text.className = "msg-text";
    text.textContent = m.content;
    body.append(meta, text);
    li.append(avatar, body);
    return li;
  }

  // A message continues its predecessor's run: same author within five minutes.
  function updateRun(li) {
    if (!li) return;
    const prev = li.previousElementSibling;
    let cont = false;
    if (prev && prev.dataset.user === li.dataset.user) {
      const a = new Date(prev.querySelector("time").getAttribute("datetime"));
      const b = new Date(li.querySelector("time").getAttribute("datetime"));
      cont = b - a < 5 * 60 * 1000;
    }
    li.classList.toggle("msg-cont", cont);
  }

  // Puts a message in seq order; one already shown is ignored.
  function insert(m, arriving) {
    if (typeof m.seq !== "number" || shown.has(m.seq)) return false;
    shown.add(m.seq);
    const li = buildMessage(m);
    let after = list.lastElementChild;
    while (after && Number(after.dataset.seq) > m.seq) after = after.previousElementSibling;
    if (after) after.after(li);
    else list.prepend(li);
    updateRun(li);
    updateRun(li.nextElementSibling);
    if (arriving) li.classList.add("msg-new");
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (firstSeq === 0 || m.seq < firstSeq) firstSeq = m.seq;
    empty.hidden = true;
    return true;
  }

  function arrive(m) {
    const follow = atBottom() || m.user.id === me;
    if (insert(m, true) && follow) toBottom();
    seeIfVisible();
  }

  // ── Connection indicator and the end of the stream ───────────────────────────────

  function setConn(state) {
    conn.dataset.state = state;
    connText.textContent = S["conn_" + state] || state;
  }

  let stopped = false;
  let endReason = "";
  function end(text) {
    stopped = true;
    clearTimeout(retryTimer);
    setConn("closed");
    banner.textContent = text;
    banner.hidden = false;
    if (form) form.hidden = true;
    if (leaveLink) leaveLink.hidden = true;
  }
  function endText(reason) {
    switch (reason) {
      case "left": return S.banner_left;
      case "removed": return S.banner_removed;
      case "deactivated": return S.banner_deactivated;
      case "deleted": return S.banner_deleted;
      default: return S.banner_no_access;
    }
  }

  // ── The socket ─────────────────────────────────────────────────────────────────────

  let socket = null;
  let opened = false;
  let attempt = 0;
  let retryTimer = 0;

  function connect() {
    if (stopped || socket) return;
    clearTimeout(retryTimer);
    setConn(attempt > 0 ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(scheme + "//" + location.host + "/ws/chat/" + chatId + "/?after_seq=" + lastSeq);
    } catch (e) {
      retry();
      return;
    }
    socket = ws;
    opened = false;
    ws.addEventListener("open", function () {
      if (socket !== ws) return;
      opened = true;
      attempt = 0;
      setConn("online");
      flush();
      // What was seen while the socket was down (the page's own history on load, or what a
      // resume brought) is marked read now.
      seeIfVisible();
    });
    ws.addEventListener("message", function (event) {
      if (socket === ws) onFrame(event.data);
    });
    ws.addEventListener("close", function (event) {
      if (socket !== ws) return;
      socket = null;
      onClose(event);
    });
  }

  function retry(now) {
    if (stopped) return;
    attempt += 1;
    const base = now ? 100 : Math.min(10000, 500 * Math.pow(2, attempt - 1));
    const delay = base * (0.8 + Math.random() * 0.4);
    setConn(navigator.onLine === false ? "offline" : "reconnecting");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  function onClose(event) {
    if (pending) pending.sent = false;
    if (event.code === 1000 && (endReason || event.reason)) {
      end(endText(endReason || reasonOf(event.reason)));
    } else if (event.code === 4001) {
      end(S.banner_signed_out);
    } else if (event.code === 4000) {
      retry(true); // fell behind: resume at once from lastSeq
    } else if (!opened) {
      probe(); // refused before it opened: find out why
    } else {
      retry(false);
    }
  }

  function reasonOf(text) {
    if (/deleted/.test(text)) return "deleted";
    if (/deactivated/.test(text)) return "deactivated";
    if (/removed/.test(text)) return "removed";
    if (/left/.test(text)) return "left";
    return "";
  }

  // The upgrade was refused or the server is away: the chat's own answer says which.
  function probe() {
    window.beseda.api("/api/chat/" + chatId + "/")
      .then(function (r) {
        if (r.status === 401) end(S.banner_signed_out);
        else if (r.status === 403 || r.status === 404) end(S.banner_no_access);
        else retry(false);
      })
      .catch(function () { retry(false); });
  }

  function onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      return;
    }
    switch (frame.type) {
      case "message":
        arrive(frame);
        if (pending && pending.sent && frame.client_id === pending.clientId) sent();
        break;
      case "ack":
        if (pending && frame.client_id === pending.clientId) sent();
        break;
      case "error":
        if (pending && pending.sent) refused(frame);
        break;
      case "member_removed":
        if (frame.user && frame.user.id === me) endReason = frame.reason || "removed";
        break;
      case "chat_deleted":
        endReason = "deleted";
        break;
      case "chat_renamed":
        document.getElementById("room-title").textContent = frame.name;
        document.title = document.title.replace(/^.*?( · [^·]+)$/, frame.name + "$1");
        break;
      case "read":
        onRead(frame);
        break;
      default:
        break; // member_added, lagged (the close follows), anything newer
    }
  }

  // ── The composer ───────────────────────────────────────────────────────────────────

  let pending = null; // { clientId, content, sent }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    input.setAttribute("aria-invalid", "true");
  }
  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    input.removeAttribute("aria-invalid");
  }
  function setBusy(busy) {
    form.classList.toggle("composer-busy", busy);
    input.readOnly = busy;
    sendButton.disabled = busy;
    if (busy) input.setAttribute("aria-busy", "true");
    else input.removeAttribute("aria-busy");
  }
  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 180) + "px";
  }
  function newClientId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function submit() {
    if (pending || stopped) return;
    const content = input.value;
    const trimmed = content.trim();
    if (!trimmed) {
      showError(S.err_blank);
      return;
    }
    const count = Array.from(trimmed).length;
    if (count > maxChars) {
      showError(fill(S.err_too_long, { count: count, max: maxChars }));
      return;
    }
    clearError();
    pending = { clientId: newClientId(), content: content, sent: false };
    setBusy(true);
    if (!flush()) {
      errorBox.textContent = S.room_queued;
      errorBox.hidden = false;
    }
  }

  // Sends the pending message if the socket is open (again after a reconnect: the same
  // client_id, so the server stores it once).
  function flush() {
    if (!pending || !socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ type: "send", content: pending.content, client_id: pending.clientId }));
    pending.sent = true;
    if (errorBox.textContent === S.room_queued) clearError();
    return true;
  }

  function sent() {
    pending = null;
    setBusy(false);
    clearError();
    input.value = "";
    sessionStorage.removeItem(draftKey);
    grow();
    input.focus();
  }

  function refused(frame) {
    pending = null;
    setBusy(false);
    let text;
    if (frame.code === "rate_limited") text = S.err_rate_limited;
    else if (frame.code === "forbidden") text = S.err_forbidden;
    else if (frame.code === "invalid" && /blank/.test(frame.error)) text = S.err_blank;
    else if (frame.code === "invalid" && /no more than/.test(frame.error)) {
      text = fill(S.err_too_long, { count: Array.from(input.value.trim()).length, max: maxChars });
    } else text = fill(S.err_send_failed, { reason: frame.error });
    showError(text); // the draft stays in the composer
    input.focus();
  }

  // ── "Show earlier messages" ────────────────────────────────────────────────────────

  function loadOlder(event) {
    event.preventDefault();
    if (olderLink.getAttribute("aria-busy") === "true" || firstSeq <= 1) return;
    const label = olderLink.textContent;
    olderLink.textContent = S.room_loading;
    olderLink.setAttribute("aria-busy", "true");
    window.beseda.api("/api/chat/" + chatId + "/message/?limit=50&before_seq=" + firstSeq)
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (messages) {
        const height = timeline.scrollHeight;
        const top = timeline.scrollTop;
        messages.forEach(function (m) { insert(m, false); });
        timeline.scrollTop = top + (timeline.scrollHeight - height);
        olderLink.textContent = label;
        olderLink.href = "/chats/" + chatId + "/?before_seq=" + firstSeq;
        if (messages.length === 0 || firstSeq <= 1) olderBox.hidden = true;
      })
      .catch(function () {
        olderLink.textContent = S.err_load_failed;
      })
      .finally(function () {
        olderLink.removeAttribute("aria-busy");
      });
  }

  // ── Start ──────────────────────────────────────────────────────────────────────────

  if (!live) return; // an older page of history: plain links, no socket

  if (location.hash && document.getElementById(location.hash.slice(1))) {
    document.getElementById(location.hash.slice(1)).scrollIntoView({ block: "center" });
  } else {
    toBottom();
  }
  if (olderLink) olderLink.addEventListener("click", loadOlder);
  timeline.addEventListener("scroll", seeIfVisible, { passive: true });
  document.addEventListener("visibilitychange", function () {
    seeIfVisible();
    if (document.visibilityState === "visible" && !socket && !stopped) connect();
  });
  window.addEventListener("online", function () {
    if (!socket && !stopped) connect();
  });
  window.addEventListener("offline", function () {
    if (!socket && !stopped) setConn("offline");
  });

  if (form) {
    const saved = sessionStorage.getItem(draftKey);
    if (saved && !input.value) input.value = saved;
    grow();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      } else if (event.key === "Escape" && pending && !pending.sent) {
        pending = null; // still queued: take it back
        setBusy(false);
        clearError();
      }
    });
    input.addEventListener("input", function () {
      grow();
      if (!errorBox.hidden && errorBox.textContent !== S.room_queued) clearError();
      if (input.value) sessionStorage.setItem(draftKey, input.value);
      else sessionStorage.removeItem(draftKey);
    });
  }

  seeIfVisible();
  connect();
})();
