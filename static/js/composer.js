/* The reply composer's browser behaviour (templates/cases/_composer.html). A file, never inline:
 * the CSP allows no inline script. The server decides everything that matters (checks, limits,
 * what may be sent); this only keeps the form pleasant between requests:
 *  - Send is disabled while the box is empty or a blocking check has no override reason
 *    (the server refuses it anyway), and the override fields show only when a check blocks;
 *  - canned replies: static/js/canned.js (the picker);
 *  - Ctrl/Cmd+Enter sends; focus stays on the control that re-rendered the composer.
 */
(function () {
  "use strict";

  function composerOf(el) {
    return el && el.closest ? el.closest("[data-composer]") : null;
  }

  function refresh(composer) {
    if (!composer) return;
    var text = composer.querySelector("[data-composer-text]");
    var panel = composer.querySelector("#composer-checks");
    var overrideBox = composer.querySelector("[data-override]");
    var send = composer.querySelector("[data-composer-send]");
    if (!text || !send) return;
    var blocking = panel ? parseInt(panel.getAttribute("data-blocking") || "0", 10) : 0;
    var overridden = false;
    if (overrideBox) {
      overrideBox.hidden = blocking === 0;
      var tick = overrideBox.querySelector("input[type=checkbox]");
      var reason = overrideBox.querySelector("input[type=text]");
      overridden = !!(tick && tick.checked && reason && reason.value.trim());
    }
    var empty = text.value.trim() === "";
    send.disabled = empty || (blocking > 0 && !overridden);
    send.title = empty
      ? "Write a reply first"
      : blocking > 0 && !overridden
        ? "Fix the blocking checks, or tick Override and write why"
        : "";
  }

  document.addEventListener("input", function (event) {
    refresh(composerOf(event.target));
  });
  document.addEventListener("change", function (event) {
    refresh(composerOf(event.target));
  });

  // Ctrl/Cmd+Enter sends, from anywhere in the composer form.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var composer = composerOf(event.target);
    if (!composer) return;
    var send = composer.querySelector("[data-composer-send]");
    var form = send && send.form;
    event.preventDefault();
    if (!form || send.disabled) return;
    if (form.requestSubmit) form.requestSubmit(send);
    else send.click();
  });

  // Re-rendering the composer (public/private, reply-to) keeps focus where it was.
  var focusedId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    focusedId = target && target.id === "composer" && document.activeElement
      ? document.activeElement.id
      : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var composer = document.querySelector("[data-composer]");
    refresh(composer);
    if (focusedId && target && (target.id === "composer" || composerOf(target))) {
      var el = document.getElementById(focusedId);
      if (el && composerOf(el)) el.focus();
      focusedId = null;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    refresh(document.querySelector("[data-composer]"));
  });
})();
