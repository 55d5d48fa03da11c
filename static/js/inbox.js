/* The inbox in the browser: keyboard navigation, row selection for bulk actions, filters that
 * apply on change, and keeping the selection across the 5-second live updates.
 * Loaded as a file by cases/inbox.html: the CSP allows no inline script.
 *
 * Keys (not while typing in a field): j / k next / previous case, Enter opens it,
 * x toggles its checkbox, / focuses the search box.
 */
(function () {
  "use strict";

  var selectedId = null; // the keyboard-selected row's case id, kept across live updates

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#case-list .case-row"));
  }

  function selectRow(row, scroll) {
    rows().forEach(function (r) {
      r.classList.remove("is-selected");
      r.removeAttribute("aria-selected");
    });
    if (!row) return;
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    selectedId = row.getAttribute("data-case-id");
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var current = list.findIndex(function (r) { return r.classList.contains("is-selected"); });
    var next = current < 0 ? 0 : Math.min(list.length - 1, Math.max(0, current + step));
    selectRow(list[next], true);
  }

  function selectedRow() {
    return document.querySelector("#case-list .case-row.is-selected");
  }

  function updateBulkBar() {
    var bar = document.getElementById("bulk-form");
    if (!bar) return;
    var checked = document.querySelectorAll("#case-list .row-check:checked").length;
    var count = bar.querySelector("[data-bulk-count]");
    if (count) {
      // The wording comes from the page, in the reader's language ("{count} cases selected").
      count.textContent = checked === 0 ? count.getAttribute("data-none")
        : checked === 1 ? count.getAttribute("data-one")
        : count.getAttribute("data-many").replace("{count}", checked);
    }
    bar.classList.toggle("has-selection", checked > 0);
    var submit = bar.querySelector("[data-bulk-submit]");
    if (submit) submit.disabled = checked === 0;
    var all = document.querySelector("#case-list [data-select-all]");
    if (all) {
      var total = document.querySelectorAll("#case-list .row-check").length;
      all.checked = total > 0 && checked === total;
      all.indeterminate = checked > 0 && checked < total;
    }
  }

  function showBulkFields() {
    var action = document.getElementById("bulk-action");
    if (!action) return;
    document.querySelectorAll("[data-bulk-for]").forEach(function (field) {
      var wanted = field.getAttribute("data-bulk-for").split(" ");
      var show = wanted.indexOf(action.value) >= 0;
      field.hidden = !show;
      field.querySelectorAll("select, input").forEach(function (input) {
        input.required = show;
      });
    });
  }

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var row;
    switch (event.key) {
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "Enter":
        row = selectedRow();
        if (!row || event.target.closest("a, button")) return;
        window.location.href = row.getAttribute("data-case-url");
        break;
      case "x":
        row = selectedRow();
        if (!row) return;
        var box = row.querySelector(".row-check");
        if (box) {
          box.checked = !box.checked;
          updateBulkBar();
        }
        break;
      case "/":
        var search = document.getElementById("f-q");
        if (search) search.focus();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll("#case-list .row-check").forEach(function (box) {
        box.checked = target.checked;
      });
      updateBulkBar();
    } else if (target.matches(".row-check")) {
      updateBulkBar();
    } else if (target.id === "bulk-action") {
      showBulkFields();
    } else if (target.matches("#filters select")) {
      // Filters apply at once; the Apply button stays for keyboard and no-JS use.
      target.form.requestSubmit();
    }
  });

  document.addEventListener("click", function (event) {
    var row = event.target.closest("#case-list .case-row");
    if (row && !event.target.closest("a, input, label, button")) selectRow(row, false);
  });

  // Live updates replace the list: carry the checked boxes and the selected row over.
  var carried = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "case-list") return;
    carried = Array.prototype.map.call(
      document.querySelectorAll("#case-list .row-check:checked"),
      function (box) { return box.value; }
    );
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (carried) {
      carried.forEach(function (id) {
        var box = document.getElementById("select-" + id);
        if (box) box.checked = true;
      });
      carried = null;
    }
    if (selectedId) {
      var row = document.querySelector('#case-list .case-row[data-case-id="' + selectedId + '"]');
      if (row) selectRow(row, false);
    }
    updateBulkBar();
  });

  // A form that destroys something asks first (deleting a saved view).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // On tablets and phones the filters fold away behind a button that counts those in use.
  function countFilters() {
    var form = document.getElementById("filters");
    var count = document.querySelector("[data-filter-count]");
    if (!form || !count) return;
    var used = 0;
    form.querySelectorAll("select").forEach(function (select) {
      if (select.name !== "sort" && select.selectedIndex > 0) used += 1;
    });
    count.textContent = used ? String(used) : "";
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-toggle-filters]");
    if (!toggle) return;
    var form = document.getElementById("filters");
    var open = form.classList.toggle("is-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  document.addEventListener("DOMContentLoaded", function () {
    showBulkFields();
    updateBulkBar();
    countFilters();
  });
})();
