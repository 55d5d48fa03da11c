/* The review form: keyboard scoring, suggestions used with one click or key, "you chose
 * otherwise" markers, the reviewed reply highlighted in the conversation. Loaded as a file from
 * templates/qa/review.html (no inline script under the CSP). The live score preview is htmx
 * (the server computes it).
 *
 * Nothing arrives selected. "Use suggestion" selects the pre-score and marks the answer as the
 * accepted suggestion (hidden field s<id> = 1); choosing an answer yourself clears the mark.
 *
 * Keys on the current criterion: 1-5 score, y/n yes/no, 0 N/A, s the suggestion; j/k (or Tab)
 * next/previous; c the comment; Ctrl+Enter (or Cmd+Enter) submits from anywhere; ? the help.
 */
(function () {
  "use strict";

  function criteria() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-criterion]"));
  }

  var current = null;

  function setCurrent(fieldset, focus) {
    if (!fieldset) return;
    criteria().forEach(function (el) { el.classList.toggle("is-current", el === fieldset); });
    current = fieldset;
    if (focus) {
      var input = fieldset.querySelector(".scale__input:checked") || fieldset.querySelector(".scale__input");
      if (input) input.focus({ preventScroll: true });
      fieldset.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var list = criteria();
    var index = list.indexOf(current);
    var next = list[Math.min(list.length - 1, Math.max(0, index + step))];
    setCurrent(next || list[0], true);
  }

  function markCorrected(fieldset) {
    var auto = fieldset.getAttribute("data-auto");
    var checked = fieldset.querySelector(".scale__input:checked");
    fieldset.classList.toggle("is-corrected", !!(auto && checked && checked.value !== auto));
  }

  var usingSuggestion = false;

  function useSuggestion(fieldset) {
    var auto = fieldset.getAttribute("data-auto");
    var input = auto && fieldset.querySelector('.scale__input[value="' + auto + '"]');
    var mark = fieldset.querySelector("[data-accepted]");
    if (!input || input.disabled || !mark) return false;
    usingSuggestion = true;
    try {
      input.click(); // fires change: the htmx preview and the markers follow
    } finally {
      usingSuggestion = false;
    }
    mark.value = "1";
    return true;
  }

  function advance() {
    var list = criteria();
    var index = list.indexOf(current);
    if (index < list.length - 1) setCurrent(list[index + 1], true);
    else setCurrent(current, true);
  }

  function choose(key) {
    if (!current) return false;
    if (key === "s") {
      if (!useSuggestion(current)) return false;
    } else {
      var input = current.querySelector('.scale__input[data-key="' + key + '"]');
      if (!input || input.disabled) return false;
      input.click(); // fires change: the htmx preview and the corrected marker follow
    }
    advance();
    return true;
  }

  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "radio") || el.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    var form = document.getElementById("review-form");
    if (!form) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var submit = form.querySelector("[data-submit]");
      if (submit) {
        event.preventDefault();
        form.requestSubmit(submit);
      }
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open) return;
    var key = event.key;
    if (key === "j") {
      move(1);
      event.preventDefault();
    } else if (key === "k") {
      move(-1);
      event.preventDefault();
    } else if (key === "c") {
      var comment = document.getElementById("review-comment");
      if (comment && !comment.disabled) {
        comment.focus();
        event.preventDefault();
      }
    } else if (/^[0-5yns]$/.test(key)) {
      if (!current) setCurrent(criteria()[0], false);
      if (choose(key)) event.preventDefault();
    }
  });

  document.addEventListener("focusin", function (event) {
    var fieldset = event.target.closest && event.target.closest("[data-criterion]");
    if (fieldset && fieldset !== current) setCurrent(fieldset, false);
  });

  document.addEventListener("change", function (event) {
    var fieldset = event.target.closest && event.target.closest("[data-criterion]");
    if (!fieldset) return;
    var mark = fieldset.querySelector("[data-accepted]");
    if (mark && !usingSuggestion) mark.value = ""; // the reviewer's own choice
    markCorrected(fieldset);
  });

  document.addEventListener("click", function (event) {
    var use = event.target.closest && event.target.closest("[data-use-suggestion]");
    if (use) {
      var fieldset = use.closest("[data-criterion]");
      if (fieldset && useSuggestion(fieldset)) setCurrent(fieldset, true);
      return;
    }
    var opener = event.target.closest && event.target.closest("[data-open-help]");
    if (opener) {
      var dialog = document.getElementById("shortcuts-help");
      if (dialog) dialog.showModal();
    }
  });

  function init() {
    criteria().forEach(markCorrected);
    var firstError = document.querySelector(".criterion--error");
    setCurrent(firstError || criteria()[0], false);
    var summary = document.getElementById("review-errors");
    if (summary) {
      // The summary says what to fix (with links); the first criterion to fix takes the keys.
      summary.scrollIntoView({ block: "center" });
      var input = firstError && firstError.querySelector(".scale__input");
      if (input) input.focus({ preventScroll: true });
    }
    var page = document.querySelector("[data-reviewed-reply]");
    var id = page && page.getAttribute("data-reviewed-reply");
    var reply = id && document.getElementById(id);
    if (reply) {
      reply.classList.add("is-reviewed");
      var wrap = reply.closest("[data-timeline-scroll]");
      if (wrap) wrap.scrollTop = Math.max(0, reply.offsetTop - wrap.offsetTop - 40);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
