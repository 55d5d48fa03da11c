/* The keyboard shortcuts help, the same on every page that has shortcuts: "?" or a
 * [data-open-help] button opens the page's <dialog id="shortcuts-help">. Loaded as a file: the
 * CSP allows no inline script.
 */
(function () {
  "use strict";

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target.isContentEditable;
  }

  function openHelp() {
    var dialog = document.getElementById("shortcuts-help");
    if (!dialog || dialog.open) return false;
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute("open", "");
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "?" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.isComposing || isTyping(event.target)) return;
    if (openHelp()) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-open-help]")) openHelp();
  });
})();
