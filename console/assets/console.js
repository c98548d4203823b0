// The console's only script (embedded in the node's binary; no build step). It adds keyboard
// shortcuts, refreshes the sync banner and tells when the order on screen changed elsewhere.
// Every action still goes through a plain HTML form: the page works without it.
(function () {
  "use strict";
  var keys = {
    l: function () { focus("product"); },
    u: function () { click(".accept-suggestion"); },
    p: function () { focus("pay-amount"); },
    h: function () { focus("hold-code"); },
    s: function () { click("#submit"); }
  };
  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); if (el.select) { el.select(); } }
  }
  function click(sel) {
    var el = document.querySelector(sel);
    if (el) { el.click(); }
  }
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || e.ctrlKey || e.metaKey) { return; }
    var f = keys[(e.key || "").toLowerCase()];
    if (f) { e.preventDefault(); f(); }
  });

  function refreshBanner() {
    var el = document.getElementById("sync-banner");
    if (!el) { return; }
    fetch("/console/banner", { credentials: "same-origin" }).then(function (r) {
      return r.ok && !r.redirected ? r.text() : null;
    }).then(function (html) {
      if (html) { el.outerHTML = html; }
    }).catch(function () {});
  }
  setInterval(refreshBanner, 5000);

  function watchOrder() {
    var main = document.querySelector("[data-version-url]");
    if (!main) { return; }
    var url = main.getAttribute("data-version-url");
    var seen = main.getAttribute("data-version");
    setInterval(function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) {
        return r.ok && !r.redirected ? r.text() : null;
      }).then(function (v) {
        if (v && v !== seen) {
          var note = document.getElementById("live-changed");
          if (note) { note.hidden = false; }
        }
      }).catch(function () {});
    }, 3000);
  }
  document.addEventListener("DOMContentLoaded", watchOrder);
})();
