/* SocialDesk browser behaviour. Loaded as a file: the CSP allows no inline script.
 *
 * Waiting times: the server renders "4 min" and the exact time in <time datetime>;
 * between htmx updates (which answer 204 when no case changed) this keeps the text current.
 * The format matches cases.views.format_wait.
 */
(function () {
  "use strict";

  function formatWait(ms) {
    var minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 1) return "<1 min";
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    var days = Math.floor(hours / 24);
    hours = hours % 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }

  function refreshWaiting(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-waiting]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(since)) el.textContent = formatWait(now - since);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setInterval(refreshWaiting, 30000);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    refreshWaiting(event.detail.target);
  });
})();
