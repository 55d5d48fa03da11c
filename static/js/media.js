// The images on a case's timeline: a click opens the stored image larger in #media-viewer
// (a <dialog>); without script, or with a modifier key, the link opens it in a new tab.
// Listens on the document, so timelines swapped in by htmx need nothing more.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-media-viewer]");
    var viewer = document.getElementById("media-viewer");
    if (!link || !viewer || typeof viewer.showModal !== "function") return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    var thumb = link.querySelector("img");
    var image = viewer.querySelector(".media-viewer__image");
    var caption = link.getAttribute("data-caption") || "";
    image.src = link.href;
    image.alt = thumb ? thumb.alt : "";
    // textContent, never innerHTML: the alt text is the customer's.
    viewer.querySelector(".media-viewer__caption").textContent = caption;
    viewer.querySelector(".media-viewer__open").href = link.href;
    viewer.showModal();
  });

  document.addEventListener("click", function (event) {
    // A click on the backdrop (the dialog itself, outside its content) closes it.
    var viewer = document.getElementById("media-viewer");
    if (viewer && event.target === viewer) viewer.close();
  });
})();
