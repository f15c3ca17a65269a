// firebell page: live ticks, keyboard, CSRF header for htmx. No build step; loaded with
// `defer` after htmx and its SSE extension. Without JavaScript every page and form still works.
(function () {
  "use strict";
  var TOPICS = ["incidents", "oncall", "silences", "runs"];
  var POLL_MS = 30000;
  var body = document.body;
  var status = document.getElementById("live-status");
  // The stream is htmx's SSE extension on #live (reconnects with backoff, pauses in a
  // hidden tab); this file maps its events to the sections and runs the polling fallback.
  var live = document.getElementById("live");
  var streaming = false; // the extension holds a connection (or is reconnecting one)
  var pollTimer = null;
  var fallbackTimer = null;

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  // Every SSE tick X becomes the DOM event `changed-X` on <body>; sections listen with
  // hx-trigger="changed-X from:body".
  function fire(topic) {
    body.dispatchEvent(new CustomEvent("changed-" + topic, { bubbles: false }));
  }
  function fireAll() { TOPICS.forEach(fire); }

  function poll() {
    fireAll();
    // A refused first connection (logged out, too many streams) is not retried by the
    // extension: ask it again at each poll.
    if (!streaming && live && !document.hidden) htmx.trigger(live, "live-retry");
  }
  function startPolling() {
    if (pollTimer) return;
    setStatus("polling", "polling");
    pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    clearTimeout(fallbackTimer);
    fallbackTimer = null;
  }
  function pollSoon() { // not live within 5 s: poll meanwhile
    if (!fallbackTimer && !pollTimer) fallbackTimer = setTimeout(startPolling, 5000);
  }

  if (live) {
    setStatus("connecting", "connecting");
    pollSoon();
    live.addEventListener("htmx:sse:after:connection", function () { streaming = true; });
    live.addEventListener("htmx:sse:close", function () { streaming = false; startPolling(); });
    live.addEventListener("htmx:sse:error", function () {
      if (pollTimer) return;
      setStatus("reconnecting", "reconnecting");
      pollSoon();
    });
    // A stream that simply ended (server restart) is being reconnected too.
    live.addEventListener("htmx:sse:before:connection", function () {
      if (!pollTimer && status && status.dataset.state === "live") {
        setStatus("reconnecting", "reconnecting");
        pollSoon();
      }
    });
    // The server's first event on every (re)connection: catch up on what was missed.
    live.addEventListener("hello", function () {
      stopPolling();
      setStatus("live", "live");
      fireAll();
    });
    TOPICS.forEach(function (topic) {
      live.addEventListener(topic, function () { fire(topic); });
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { stopPolling(); setStatus("paused", "paused"); }
      else if (!streaming) poll();
    });
  }

  // htmx requests carry the CSRF token as a header too (forms also have the field).
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:config:request", function (evt) {
    var ctx = evt.detail && evt.detail.ctx;
    if (meta && ctx && ctx.request && ctx.request.headers) {
      ctx.request.headers["X-CSRF-Token"] = meta.content;
    }
  });

  // A request that got no answer (server restarting, network gone). htmx logs it on the
  // console; a person who pressed a button must see it on the page, since the action may
  // or may not have been applied. A failed refresh needs no word: the indicator already
  // says reconnecting, and the stream's hello refreshes everything once it is back.
  // The next action that is answered takes the message away.
  var flash = document.getElementById("flash");
  function isAction(evt) {
    var ctx = evt.detail && evt.detail.ctx;
    var method = ctx && ctx.request && ctx.request.method;
    return !!method && method.toUpperCase() !== "GET";
  }
  document.addEventListener("htmx:error", function (evt) {
    if (!flash || !isAction(evt)) return;
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    p.dataset.noAnswer = "";
    p.textContent = "No answer from firebell: the action may not have been applied. " +
      "Check the incident once the page is live again before you repeat it.";
    flash.replaceChildren(p);
  });
  document.addEventListener("htmx:before:response", function (evt) {
    var stale = flash && isAction(evt) && flash.querySelector("[data-no-answer]");
    if (stale) stale.remove();
  });

  // A morph keeps what the user is typing: never overwrite the focused field's value.
  document.addEventListener("htmx:before:swap", function () {
    var el = document.activeElement;
    if (el && el.matches && el.matches("input, textarea, select") && el.id) {
      var value = el.value, start = el.selectionStart, end = el.selectionEnd;
      document.addEventListener("htmx:after:swap", function restore() {
        document.removeEventListener("htmx:after:swap", restore);
        var again = document.getElementById(el.id);
        if (!again) return;
        if (again.value !== value) again.value = value;
        if (document.activeElement !== again) again.focus();
        try { if (start != null) again.setSelectionRange(start, end); } catch (e) { /* not text */ }
      });
    }
  });

  // Tab title: an element with data-title-count="N" puts "(N) " before the title.
  function updateTitle() {
    var counter = document.querySelector("[data-title-count]");
    var base = document.title.replace(/^\(\d+\) /, "");
    var n = counter ? parseInt(counter.getAttribute("data-title-count"), 10) : 0;
    document.title = n > 0 ? "(" + n + ") " + base : base;
  }
  document.addEventListener("htmx:after:swap", updateTitle);

  // Keyboard: j/k move between [data-row], a/r submit the focused row's form[data-key],
  // s opens the silence control, ? the help. Not while typing, not with modifiers.
  var help = document.getElementById("help");
  var helpButton = document.querySelector("[data-help]");
  if (helpButton && help && help.showModal) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", function () { help.showModal(); });
  }
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-row]")); }
  function currentRow() {
    var el = document.activeElement;
    return el && el.closest ? el.closest("[data-row]") : null;
  }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(currentRow());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    all[next].focus();
  }
  function scope() { return currentRow() || (rows().length === 1 ? rows()[0] : document); }
  function submitKey(key) {
    var form = scope().querySelector('form[data-key="' + key + '"]');
    if (!form) return false;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
    return true;
  }
  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || evt.defaultPrevented) return;
    if (typing(evt.target)) return;
    if (help && help.open) return; // the dialog handles Esc itself
    var handled = true;
    switch (evt.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": handled = submitKey("a"); break;
      case "r": handled = submitKey("r"); break;
      case "s":
        var target = scope().querySelector('[data-key="s"]');
        if (target) {
          if (target.tagName === "DETAILS") target.open = true;
          var field = target.querySelector("input:not([type=hidden]), select, button, summary");
          (field || target).focus();
        } else handled = false;
        break;
      case "?": if (help && help.showModal) help.showModal(); break;
      default: handled = false;
    }
    if (handled) evt.preventDefault();
  });

  updateTitle();
})();
