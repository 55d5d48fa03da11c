/* The composer's canned reply picker (templates/cases/_canned_picker.html). A file, never
 * inline: the CSP allows no inline script.
 *  - Ctrl/Cmd+K in the composer, or its button, opens the picker and focuses the search; htmx
 *    asks for the matches as the agent types (each option carries its filled-in text);
 *  - ↑/↓ choose, Enter or a click inserts the text where the cursor was in the reply box,
 *    Esc closes and goes back to the box; a click outside closes it too.
 * The option's link opens the composer with the text, for a browser without this script.
 */
(function () {
  "use strict";

  var saved = null; // the reply box's selection when the picker opened

  function pickerOf(el) {
    return el && el.closest ? el.closest("[data-canned-picker]") : null;
  }

  function textBox(picker) {
    var composer = picker.closest("[data-composer]");
    return composer && composer.querySelector("[data-composer-text]");
  }

  function options(picker) {
    return Array.prototype.slice.call(picker.querySelectorAll("[role=option]"));
  }

  function activate(picker, option) {
    var search = picker.querySelector("[data-canned-search]");
    options(picker).forEach(function (each) {
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      search.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  }

  function open(picker) {
    var panel = picker.querySelector(".canned-picker__panel");
    var search = picker.querySelector("[data-canned-search]");
    var box = textBox(picker);
    if (box && document.activeElement === box) {
      saved = { start: box.selectionStart, end: box.selectionEnd };
    } else if (box && !saved) {
      saved = { start: box.value.length, end: box.value.length };
    }
    panel.hidden = false;
    picker.querySelector("[data-canned-open]").setAttribute("aria-expanded", "true");
    search.focus();
    search.select();
    window.htmx.trigger(search, "sd:canned-open");
  }

  function close(picker, backToBox) {
    var panel = picker.querySelector(".canned-picker__panel");
    if (panel.hidden) return;
    panel.hidden = true;
    picker.querySelector("[data-canned-open]").setAttribute("aria-expanded", "false");
    var box = textBox(picker);
    if (backToBox && box) {
      box.focus();
      if (saved) box.setSelectionRange(saved.start, saved.end);
    }
    saved = null;
  }

  function insert(picker, option) {
    var box = textBox(picker);
    if (!box || !option) return;
    var snippet = option.getAttribute("data-canned-text") || "";
    var value = box.value;
    var start = saved ? saved.start : value.length;
    var end = saved ? saved.end : value.length;
    var before = value.slice(0, start);
    var after = value.slice(end);
    // Keep words apart when inserting next to existing text.
    if (before && !/\s$/.test(before)) snippet = " " + snippet;
    if (after && !/^\s/.test(after)) snippet = snippet + " ";
    box.value = before + snippet + after;
    var caret = before.length + snippet.length;
    saved = { start: caret, end: caret };
    close(picker, true);
    // The counter, Send button and guideline checks follow typing: tell them.
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("keydown", function (event) {
    var picker;
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      var composer = event.target.closest && event.target.closest("[data-composer]");
      picker = composer && composer.querySelector("[data-canned-picker]");
      if (!picker) return;
      event.preventDefault();
      open(picker);
      return;
    }
    if (!event.target.matches || !event.target.matches("[data-canned-search]")) return;
    picker = pickerOf(event.target);
    var all = options(picker);
    var current = all.indexOf(picker.querySelector("[role=option][aria-selected=true]"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!all.length) return;
      var step = event.key === "ArrowDown" ? 1 : -1;
      activate(picker, all[(current + step + all.length) % all.length]);
    } else if (event.key === "Enter") {
      event.preventDefault(); // never submits the reply form
      if (current >= 0) insert(picker, all[current]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(picker, true);
    }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-canned-open]");
    if (opener) {
      var picker = pickerOf(opener);
      if (picker.querySelector(".canned-picker__panel").hidden) open(picker);
      else close(picker, true);
      return;
    }
    var option = event.target.closest && event.target.closest("[data-canned-picker] [role=option]");
    if (option) {
      event.preventDefault(); // the link is for a browser without this script
      insert(pickerOf(option), option);
      return;
    }
    document.querySelectorAll("[data-canned-picker]").forEach(function (each) {
      if (!each.contains(event.target)) close(each, false);
    });
  });

  // New matches: the first one is chosen.
  document.addEventListener("htmx:afterSwap", function (event) {
    // An outerHTML swap: the event's target is the replaced element; look the new one up.
    if (!event.detail.target || event.detail.target.id !== "canned-results") return;
    var picker = pickerOf(document.getElementById("canned-results"));
    if (picker) activate(picker, options(picker)[0] || null);
  });

  document.addEventListener("mouseover", function (event) {
    var option = event.target.closest && event.target.closest("[data-canned-picker] [role=option]");
    if (option) activate(pickerOf(option), option);
  });
})();
