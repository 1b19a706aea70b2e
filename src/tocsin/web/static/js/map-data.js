/* Starts loading the map's incidents as soon as the page head is parsed, in parallel with the
   map libraries; static/js/map.js picks the promise up as window.tocsinMapData. Without
   JavaScript nothing is fetched (the page shows a server-drawn picture instead). */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="tocsin-events-url"]');
  if (!meta || !window.fetch) {
    return;
  }
  window.tocsinMapData = fetch(meta.content, { credentials: "same-origin" }).then(function (r) {
    if (!r.ok) {
      throw new Error("HTTP " + r.status);
    }
    return r.json();
  });
  // map.js reports a failure; this only keeps it from also being an unhandled rejection.
  window.tocsinMapData.catch(function () {});
})();
