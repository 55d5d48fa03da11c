/* SocialDesk browser behaviour. Loaded as a file: the CSP allows no inline script.
 *
 * SocialDesk.formatDuration: a duration in the desk's words, as socialdesk.durations writes
 * it on the server ("8 s", "9 min", "2 h 5 min", "30 h", "3 d 4 h"); case.js uses it too.
 *
 * Waiting times: the server renders "4 min" and the exact time in <time datetime>;
 * between htmx updates (which answer 204 when no case changed) this keeps the text current.
 */
(function () {
  "use strict";

  function formatDuration(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 48) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    var days = Math.floor(hours / 24);
    hours = hours % 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }

  window.SocialDesk = window.SocialDesk || {};
  window.SocialDesk.formatDuration = formatDuration;

  function refreshWaiting(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-waiting]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(since)) el.textContent = formatDuration(now - since);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setInterval(refreshWaiting, 30000);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    refreshWaiting(event.detail.target);
  });
  // A <select data-autosubmit> (the language selector) sends its form when changed.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.requestSubmit();
    }
  });
})();
