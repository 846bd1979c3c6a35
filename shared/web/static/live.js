// Progressive enhancement only: every page works without this file.
// - [data-poll="URL"]: fetch JSON from URL every few seconds; each
//   [data-field="name"] inside gets the value's text, a <progress
//   data-field> its value; stops when the JSON says "done": true, and
//   reloads the page then if the element has data-reload-when-done.
// - [data-copy="ID"]: a button copying the text of element ID.
// - form[data-confirm="text"]: asks before submitting.
(function () {
  "use strict";
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-poll-seconds") || "2", 10) * 1000;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { setTimeout(tick, every * 2); return; }
          el.querySelectorAll("[data-field]").forEach(function (f) {
            var v = data[f.getAttribute("data-field")];
            if (v === undefined || v === null) return;
            if (f.tagName === "PROGRESS") { f.value = v; } else { f.textContent = String(v); }
          });
          if (data.done) {
            if (el.hasAttribute("data-reload-when-done")) { window.location.reload(); }
            return;
          }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }
  function copy(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) return;
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var status = button.nextElementSibling;
        if (status && status.hasAttribute("data-copy-status")) status.textContent = "Copied";
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("button[data-copy]").forEach(copy);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  });
})();
