// The console's only script (embedded in the node's binary; no build step). It adds keyboard
// shortcuts, refreshes the sync banner and keeps the order on screen live (server-sent events).
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

  // The order on screen, live: the node's server-sent events say what changed; the page then
  // swaps in the fresh read-only parts (never the one holding the agent's focus) and says it.
  function refreshLive() {
    return fetch(location.pathname, { credentials: "same-origin" }).then(function (r) {
      return r.ok && !r.redirected ? r.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var next = el.id && fresh.getElementById(el.id);
        if (next && !el.contains(document.activeElement)) { el.replaceWith(document.importNode(next, true)); }
      });
    }).catch(function () {});
  }
  function watchOrder() {
    var page = document.getElementById("order-page");
    if (!page || !window.EventSource) { return; }
    var source = new EventSource(page.getAttribute("data-events-url"));
    // Leaving the page ends the stream at once: a browser holds few connections per node.
    window.addEventListener("pagehide", function () { source.close(); });
    var queue = Promise.resolve();
    source.addEventListener("changed", function (e) {
      // One refresh at a time, in the order of the events: a late answer never overwrites a
      // fresher one.
      queue = queue.then(refreshLive).then(function () {
        var box = document.getElementById("live-changed");
        var list = document.getElementById("live-what");
        if (!box || !list) { return; }
        String(e.data || "").split("\n").forEach(function (line) {
          if (!line) { return; }
          var li = document.createElement("li");
          li.textContent = line;
          list.appendChild(li);
        });
        box.hidden = false;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", watchOrder);
})();
