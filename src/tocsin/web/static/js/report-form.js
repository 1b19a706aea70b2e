/* The public report form, enhanced (GET /report). Everything here is optional: without this
   script the form still has a place-name field and plain latitude/longitude fields.

   - "Choose on a map": a Leaflet map on the offline basemap (loaded only when asked for, to
     spare mobile data); a tap fills in the latitude/longitude fields.
   - "Use my current position": the browser's geolocation, only when the reporter presses it.
   - The send button is disabled once pressed, so a double tap sends one report, not two.
   Texts come from data-* attributes (translated by the server) and are set with textContent. */
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  var el = document.getElementById("report-map");
  var tools = document.getElementById("map-tools");
  var status = document.getElementById("map-status");
  var lat = document.getElementById("r-latitude");
  var lon = document.getElementById("r-longitude");
  if (!form || !el || !tools || !lat || !lon) {
    return;
  }
  var d = el.dataset;
  var map = null;
  var marker = null;

  function say(text) {
    if (status) { status.textContent = text || ""; }
  }
  function round(value) {
    return Math.round(value * 100000) / 100000;
  }
  function current() {
    var a = parseFloat(lat.value.replace(",", "."));
    var b = parseFloat(lon.value.replace(",", "."));
    return isFinite(a) && isFinite(b) ? [a, b] : null;
  }
  function place(latlng, message) {
    var details = lat.closest("details");
    if (details) { details.open = true; }  // show the reporter what was filled in
    lat.value = String(round(latlng[0]));
    lon.value = String(round(latlng[1]));
    if (map) {
      if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
    }
    say(message);
  }
  function openMap() {
    if (map || !window.L) { return; }
    el.hidden = false;
    el.setAttribute("role", "region");
    el.setAttribute("aria-label", d.labelMap || "Map");
    map = L.map(el, { minZoom: 2, maxZoom: 16, worldCopyJump: true });
    map.attributionControl.setPrefix(false);
    var start = current();
    map.setView(start || [5, 20], start ? 10 : 3);
    if (start) { marker = L.marker(start).addTo(map); }
    fetch(d.basemap, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geo) {
        if (geo) {
          L.geoJSON(geo, { interactive: false, style: { color: "#555", weight: 1, fillColor: "#f4f1e8", fillOpacity: 1 } }).addTo(map);
        }
      })
      .catch(function () { /* the map still takes taps without outlines */ });
    map.on("click", function (e) {
      place([e.latlng.lat, e.latlng.lng], d.labelChosen);
    });
  }

  tools.hidden = false;
  var openButton = document.getElementById("map-open");
  if (openButton) {
    if (!window.L) { openButton.hidden = true; }
    openButton.addEventListener("click", function () {
      openMap();
      openButton.hidden = true;
    });
  }
  var locate = document.getElementById("map-locate");
  if (locate) {
    if (!navigator.geolocation) { locate.hidden = true; }
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          place([pos.coords.latitude, pos.coords.longitude], d.labelLocated);
          if (map) { map.setView([pos.coords.latitude, pos.coords.longitude], 12); }
        },
        function () { say(d.labelNoLocation); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }
  var submit = document.getElementById("report-submit");
  form.addEventListener("submit", function () {
    if (submit) {
      window.setTimeout(function () { submit.disabled = true; }, 0);
      window.setTimeout(function () { submit.disabled = false; }, 15000);
    }
  });
})();
