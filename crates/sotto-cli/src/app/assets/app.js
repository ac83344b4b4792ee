// sotto app: the small script of the local web interface. No framework, no build step.
// It posts forms and actions to /api/*, swaps server-rendered fragments in, and listens to
// one server-sent event stream (/events) for live updates.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const status = $("#status");

  // Theme: remembered in this browser.
  const theme = localStorage.getItem("sotto-theme");
  if (theme) document.documentElement.dataset.theme = theme;

  function say(text, isError) {
    if (!status) return;
    status.textContent = text || "";
    status.classList.toggle("error", !!isError);
    if (text && !isError) setTimeout(() => { if (status.textContent === text) status.textContent = ""; }, 4000);
  }

  async function post(url, params, body, contentType) {
    const opts = { method: "POST", credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.body = body;
      opts.headers["Content-Type"] = contentType || "application/octet-stream";
    } else {
      opts.body = new URLSearchParams(params || {});
    }
    let answer = {};
    try {
      const r = await fetch(url, opts);
      answer = await r.json().catch(() => ({ error: "unexpected answer (" + r.status + ")" }));
    } catch (e) {
      answer = { error: "the app is not reachable: is `sotto app` still running?" };
    }
    if (answer.error) say(answer.error, true);
    else if (answer.notice) say(answer.notice);
    if (answer.redirect) location.assign(answer.redirect);
    return answer;
  }

  // Forms marked data-api post through fetch.
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.id === "composer") { ev.preventDefault(); sendText(); return; }
    if (!form.hasAttribute("data-api")) return;
    ev.preventDefault();
    const params = new URLSearchParams(new FormData(form));
    post(form.getAttribute("action"), params).then((a) => { if (!a.error) refresh(); });
  });

  // Buttons with data-post (accept, decline).
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-post]");
    if (b) { post(b.dataset.post, { c: b.dataset.c }).then(refresh); return; }
    const act = ev.target.closest("button[data-act]");
    if (act) { messageAction(act); return; }
    const quote = ev.target.closest("blockquote[data-target]");
    if (quote) { const t = document.getElementById(quote.dataset.target); if (t) t.focus(); }
  });

  function messageAction(b) {
    const li = b.closest("li.msg");
    const id = li && li.dataset.id;
    switch (b.dataset.act) {
      case "reply": {
        $("#reply-to").value = id;
        const box = $("#replying");
        box.hidden = false;
        $("span", box).textContent = "Replying to: " + ($(".body", li) || { textContent: "#" + id }).textContent;
        $("#text").focus();
        break;
      }
      case "react": {
        const mine = li.dataset.out === "true";
        post("/api/react", { m: id, emoji: b.dataset.emoji });
        void mine;
        break;
      }
      case "unsend":
        if (confirm("Delete this message for everyone?")) post("/api/unsend", { m: id });
        break;
      case "delete":
        if (confirm("Delete this message for you only?")) post("/api/delete", { m: id });
        break;
      case "route": {
        const box = $(".route", li);
        if (!box.hidden) { box.hidden = true; break; }
        fetch("/frag/route?m=" + encodeURIComponent(id), { credentials: "same-origin" })
          .then((r) => r.text()).then((html) => { box.innerHTML = html; box.hidden = false; });
        break;
      }
      case "download": {
        const att = b.closest(".att");
        const bar = $("progress", att);
        if (bar) { bar.hidden = false; bar.value = 2; }
        post("/api/download", { m: att.dataset.msg, i: att.dataset.idx });
        break;
      }
    }
  }

  // The chat.
  const history = $("#history");
  const peer = history ? history.dataset.c : null;
  let loaded = history ? $$("li.msg", history).length : 0;
  let loadingOlder = false;

  function scrollDown() { if (history) history.scrollTop = history.scrollHeight; }
  scrollDown();

  function sendText() {
    const text = $("#text");
    if (!text.value.trim()) return;
    const params = { c: peer, text: text.value };
    const reply = $("#reply-to").value;
    if (reply) params.reply = reply;
    text.value = "";
    cancelReply();
    post("/api/send", params).then(() => refreshChat(true));
  }

  function cancelReply() {
    const r = $("#reply-to");
    if (r) r.value = "";
    const box = $("#replying");
    if (box) box.hidden = true;
  }

  const textArea = $("#text");
  let typingSent = 0;
  if (textArea) {
    textArea.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); sendText(); }
      if (ev.key === "Escape") cancelReply();
    });
    textArea.addEventListener("input", () => {
      const now = Date.now();
      if (now - typingSent > 5000) { typingSent = now; post("/api/typing", { c: peer, started: "1" }); }
    });
  }
  const cancel = $("#cancel-reply");
  if (cancel) cancel.addEventListener("click", cancelReply);

  // History pages as the user scrolls up.
  if (history) {
    history.addEventListener("scroll", () => {
      if (history.scrollTop > 40 || loadingOlder) return;
      const marker = $("li.older", history);
      if (!marker) return;
      loadingOlder = true;
      const before = marker.dataset.before;
      fetch("/frag/chat?c=" + encodeURIComponent(peer) + "&before=" + before, { credentials: "same-origin" })
        .then((r) => r.text()).then((html) => {
          const height = history.scrollHeight;
          marker.remove();
          history.insertAdjacentHTML("afterbegin", html);
          loaded = $$("li.msg", history).length;
          history.scrollTop = history.scrollHeight - height;
          loadingOlder = false;
        });
    });
  }

  async function refreshChat(toBottom) {
    if (!history) return;
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 60;
    const r = await fetch("/frag/chat?c=" + encodeURIComponent(peer) + "&n=" + Math.max(loaded, 50), { credentials: "same-origin" });
    if (!r.ok) return;
    const html = await r.text();
    const open = $$(".route:not([hidden])", history).map((e) => e.closest("li.msg").id);
    history.innerHTML = html;
    loaded = $$("li.msg", history).length;
    open.forEach((id) => { const li = document.getElementById(id); if (li) $("button[data-act=route]", li).click(); });
    if (toBottom || atBottom) scrollDown();
    // The header (request bar, timer) unless the user is working in it.
    const head = $(".chat-head");
    if (head && !head.contains(document.activeElement)) {
      const h = await fetch("/frag/head?c=" + encodeURIComponent(peer), { credentials: "same-origin" });
      if (h.ok) head.outerHTML = await h.text();
    }
  }

  async function refreshList() {
    const list = $("#list");
    if (!list) return;
    const q = ($("#search") || { value: "" }).value;
    const r = await fetch("/frag/list?c=" + encodeURIComponent(list.dataset.current || "") + "&q=" + encodeURIComponent(q), { credentials: "same-origin" });
    if (r.ok) list.innerHTML = await r.text();
  }

  let pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refreshList(); refreshChat(false); }, 150);
  }

  const search = $("#search");
  if (search) search.addEventListener("input", refreshList);
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey && ev.key === "k" && search) { ev.preventDefault(); search.focus(); }
  });

  // Files: the picker and drag-and-drop.
  function kindOf(file) {
    if (/^image\/(png|jpeg|gif|webp)$/.test(file.type)) return "image";
    if (/^audio\//.test(file.type)) return "voice";
    return "file";
  }
  function sendFiles(files) {
    for (const file of files) {
      const url = "/api/upload?c=" + encodeURIComponent(peer) + "&kind=" + kindOf(file) + "&name=" + encodeURIComponent(file.name);
      say("Sending " + file.name + "…");
      post(url, null, file, file.type || "application/octet-stream").then(() => refreshChat(true));
    }
  }
  const picker = $("#file");
  if (picker) picker.addEventListener("change", () => { sendFiles(picker.files); picker.value = ""; });
  const main = $("#main");
  if (main && history) {
    main.addEventListener("dragover", (ev) => { ev.preventDefault(); main.classList.add("drop"); });
    main.addEventListener("dragleave", () => main.classList.remove("drop"));
    main.addEventListener("drop", (ev) => { ev.preventDefault(); main.classList.remove("drop"); sendFiles(ev.dataTransfer.files); });
  }
  $$("input[data-upload]").forEach((input) => {
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (file) post(input.dataset.upload, null, file, file.type || "application/octet-stream");
    });
  });

  const themeButton = $("#theme");
  if (themeButton) themeButton.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("sotto-theme", next);
    themeButton.setAttribute("aria-pressed", String(next === "dark"));
  });

  // Live updates.
  const page = document.body.dataset.page;
  if (page === "onboard" || page === "backup") return;
  const source = new EventSource("/events");
  source.onmessage = (ev) => {
    let e;
    try { e = JSON.parse(ev.data); } catch (_) { return; }
    switch (e.kind) {
      case "ready": case "status":
        if (page === "connecting") location.reload();
        break;
      case "error": say(e.text, true); break;
      case "typing": {
        const t = $("#typing");
        if (t && e.peer === peer) t.textContent = e.started ? "typing…" : "";
        break;
      }
      case "progress": {
        const att = $(".att[data-msg='" + e.m + "'][data-idx='" + e.i + "']");
        const bar = att && $("progress", att);
        if (bar) { bar.hidden = false; bar.value = e.percent; }
        if (e.percent >= 100) refresh();
        break;
      }
      case "upload": say("File: " + e.stage); break;
      case "message":
        if (peer && e.peer === peer && document.visibilityState === "visible") post("/api/read", { c: peer });
        refresh();
        break;
      default: refresh();
    }
  };
  if (page === "connecting") setTimeout(() => location.reload(), 3000);
  if (peer) post("/api/read", { c: peer });
})();
