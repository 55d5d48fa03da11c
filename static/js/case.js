/* The case page: network clocks, keyboard shortcuts, the typing signal for presence,
 * and keeping the conversation scrolled to its latest message.
 * Loaded as a file from case_detail.html (the CSP allows no inline script).
 */
(function () {
  "use strict";

  var SOON_MS = 15 * 60 * 1000; // a running clock turns orange in its last 15 minutes
  var TYPING_MS = 5000; // "typing" for this long after the last keystroke in the reply box
  // The composer's reply textarea (templates/cases/_composer.html marks it data-composer-text).
  var REPLY_BOX = "[data-composer-text], [data-reply-box], #composer-area textarea";

  /* ---------- clocks ---------- */

  function tickClocks() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (clock) {
      var deadline = Date.parse(clock.getAttribute("data-deadline"));
      var value = clock.querySelector("[data-clock-value]");
      if (isNaN(deadline) || !value) return;
      var left = deadline - now;
      var overdue = left <= 0;
      var span = window.SocialDesk.formatDuration(Math.abs(left));  // static/js/desk.js
      // A service-level clock turns orange at its policy's warning point (data-warn); a
      // network window in its last 15 minutes.
      var warn = Date.parse(clock.getAttribute("data-warn") || "");
      var soon = isNaN(warn) ? left < SOON_MS : now >= warn;
      // The wording comes from the page, in the reader's language ("{time} left").
      var words = clock.closest("[data-clock-left]");
      var template = overdue
        ? (words ? words.getAttribute("data-clock-overdue") : "Overdue by {time}")
        : (words ? words.getAttribute("data-clock-left") : "{time} left");
      value.textContent = template.replace("{time}", span);
      clock.classList.toggle("clock--overdue", overdue);
      clock.classList.toggle("clock--running", !overdue);
      clock.classList.toggle("clock--soon", !overdue && soon);
    });
  }

  /* ---------- presence: viewing or typing ---------- */

  var lastKeystroke = 0;

  function isReplyBox(el) {
    return !!(el && el.matches && el.matches(REPLY_BOX));
  }

  function updatePresenceState() {
    var input = document.getElementById("presence-state");
    if (input) input.value = Date.now() - lastKeystroke < TYPING_MS ? "typing" : "viewing";
  }

  document.addEventListener("input", function (event) {
    if (isReplyBox(event.target)) {
      lastKeystroke = Date.now();
      updatePresenceState();
    }
  });
  // A sent reply ends the typing: colleagues must not see "typing…" after it went out.
  document.addEventListener(
    "submit",
    function (event) {
      if (event.target.querySelector && event.target.querySelector(REPLY_BOX)) {
        lastKeystroke = 0;
        updatePresenceState();
      }
    },
    true
  );
  // Bring the value up to date just before each presence poll leaves.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "presence") {
      updatePresenceState();
      event.detail.parameters["state"] = document.getElementById("presence-state").value;
    }
  });

  /* ---------- case state refreshed in the background ---------- */

  // When the case changes (the page's own reply was posted, a colleague acted) the server
  // sends the action panel again out of band; what the agent is typing there stays.
  var UNSAVED = ["#triage-reason", "#snooze-until"];
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "case-actions") return;
    UNSAVED.forEach(function (selector) {
      var current = document.querySelector(selector);
      var fresh = event.detail.fragment.querySelector(selector);
      if (!current || !fresh) return;
      // Typed here, or carried over by an earlier refresh (then the default is the typed text).
      if (current.value === current.defaultValue && !current.hasAttribute("data-unsaved")) return;
      if (fresh.tagName === "TEXTAREA") fresh.textContent = current.value;
      else fresh.setAttribute("value", current.value);
      fresh.setAttribute("data-unsaved", "");
    });
  });

  /* ---------- the conversation scrolls to its end ---------- */

  var wasAtBottom = true;

  function scroller() {
    return document.querySelector("[data-timeline-scroll]");
  }

  function atBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }

  function scrollToEnd() {
    var el = scroller();
    if (el) el.scrollTop = el.scrollHeight;
  }

  document.addEventListener("htmx:beforeSwap", function () {
    var el = scroller();
    wasAtBottom = !el || atBottom(el);
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (wasAtBottom) scrollToEnd();
    tickClocks();
  });

  /* ---------- keyboard shortcuts ---------- */

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function focusField(el) {
    if (!el) return false;
    el.focus();
    if (el.scrollIntoView) el.scrollIntoView({ block: "center" });
    return true;
  }

  function click(selector) {
    var el = document.querySelector(selector);
    if (!el) return false;
    el.click();
    return true;
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (!link) return false;
    window.location.href = link.href;
    return true;
  }

  function triage(decision) {
    var radio = document.getElementById("triage-" + decision);
    if (!radio) return false;
    radio.checked = true;
    return focusField(document.getElementById("triage-reason"));
  }

  var keys = {
    j: function () { return follow("[data-shortcut=next]"); },
    k: function () { return follow("[data-shortcut=prev]"); },
    r: function () {
      return focusField(
        document.querySelector("[data-composer-text]") ||
          document.querySelector("#composer-area textarea")
      );
    },
    e: function () { return triage("engage"); },
    i: function () { return triage("ignore"); },
    s: function () { return triage("escalate"); },
    a: function () { return click("#take-case"); },
    R: function () { return click("#resolve-case"); },
    n: function () { return focusField(document.getElementById("note-text")); },
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (document.querySelector("dialog[open]")) return;  // help, transfer: keys are theirs
    var action = keys[event.key];
    if (action && action()) event.preventDefault();
  });

  // A link with data-open-dialog="<id>" opens that <dialog> (the transfer form); without
  // script it leads to the same form on a page of its own.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-open-dialog]");
    if (!opener || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    dialog.showModal();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("case-page")) return;
    scrollToEnd();
    tickClocks();
    setInterval(tickClocks, 1000);
  });
})();
