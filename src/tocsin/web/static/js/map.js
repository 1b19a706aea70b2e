/* The interactive incident map (progressive enhancement of GET /map).

   Without this script the page shows a server-drawn picture, the filter form and the table.
   With it: a Leaflet map on the offline Natural Earth basemap (plus tiles if configured),
   incidents clustered with Leaflet.markercluster, per-type toggles, and the optional
   administrative boundaries layer. Every text comes from data-* attributes of #map (already
   translated by the server); incident values are only ever set with textContent.

   Performance marks for bench/map_load.py: "tocsin:map-start", "tocsin:data-loaded",
   "tocsin:map-rendered" (clusters drawn); #map gets data-state="ready" or "failed". */
(function () {
  "use strict";

  var el = document.getElementById("map");
  if (!el || !window.L || !L.markerClusterGroup) {
    return;
  }
  performance.mark("tocsin:map-start");
  var d = el.dataset;
  var status = document.getElementById("map-status");
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var css = getComputedStyle(document.documentElement);
  var TYPES = ["state_based", "non_state", "one_sided", "unknown"];

  function colour(type) {
    return css.getPropertyValue("--vt-" + type).trim() || "#7f7f7f";
  }
  function typeLabel(type) {
    return d["type" + type.replace(/(^|_)([a-z])/g, function (_m, _s, c) { return c.toUpperCase(); })] || type;
  }
  function say(text) {
    if (status) { status.textContent = text; }
  }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : "";
    });
  }

  el.hidden = false;
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", d.labelMap || "Map");

  var map = L.map(el, {
    preferCanvas: true,
    minZoom: 2,
    maxZoom: 16,
    worldCopyJump: true,
    zoomAnimation: !reducedMotion,
    fadeAnimation: !reducedMotion,
    markerZoomAnimation: !reducedMotion
  });
  map.setView([8, 20], 3);
  map.attributionControl.setPrefix(false);

  var overlays = {};
  if (d.tileUrl) {
    L.tileLayer(d.tileUrl, { attribution: d.tileAttribution || "", maxZoom: 16 }).addTo(map);
  }

  // Offline basemap: Natural Earth country outlines, drawn under everything else.
  map.createPane("basemap");
  map.getPane("basemap").style.zIndex = 250;
  var basemapData = d.basemapUrl ? fetch(d.basemapUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); }) : null;
  if (basemapData) {
    basemapData.then(function (gj) {
      L.geoJSON(gj, {
        pane: "basemap",
        interactive: false,
        style: {
          color: css.getPropertyValue("--border").trim() || "#8c968f",
          weight: 0.8,
          fillColor: css.getPropertyValue("--land").trim() || "#eef0e8",
          fillOpacity: d.tileUrl ? 0.15 : 1
        }
      }).addTo(map);
    }).catch(function () { /* the incidents still show without outlines */ });
  }

  // Risk choropleth from the latest forecast run: five classes of P(at least one death),
  // countries from the basemap, admin areas from the boundaries layer (joined by P-code).
  map.createPane("risk");
  map.getPane("risk").style.zIndex = 300;
  function riskClass(p) {
    return p < 0.2 ? 0 : p < 0.4 ? 1 : p < 0.6 ? 2 : p < 0.8 ? 3 : 4;
  }
  // PRIO-GRID cells are 0.5 degree squares numbered row by row from (-90, -180): drawn from
  // their number, so a grid-level run needs no geometry from the server.
  function gridCells(values) {
    var features = [];
    Object.keys(values).forEach(function (gid) {
      var n = parseInt(gid, 10);
      if (!(n >= 1 && n <= 259200)) { return; }
      var row = Math.floor((n - 1) / 720), col = (n - 1) % 720;
      var lat = row * 0.5 - 90, lon = col * 0.5 - 180;
      features.push({
        type: "Feature",
        properties: { gid: gid, name: "PRIO-GRID " + gid },
        geometry: {
          type: "Polygon",
          coordinates: [[[lon, lat], [lon + 0.5, lat], [lon + 0.5, lat + 0.5], [lon, lat + 0.5], [lon, lat]]]
        }
      });
    });
    return { type: "FeatureCollection", features: features };
  }
  function riskLayer(geojson, key, risk) {
    var unitLabel = d.labelRiskUnit || "P";
    return L.geoJSON(geojson, {
      pane: "risk",
      filter: function (f) {
        return Object.prototype.hasOwnProperty.call(risk.values, (f.properties || {})[key]);
      },
      style: function (f) {
        var p = risk.values[f.properties[key]];
        return {
          color: "#1b1f23", weight: 0.6, fillOpacity: 0.55,
          fillColor: css.getPropertyValue("--risk-" + riskClass(p)).trim()
        };
      },
      onEachFeature: function (f, lyr) {
        var p = risk.values[f.properties[key]];
        var name = f.properties.name || f.properties[key];
        lyr.bindTooltip(name + ": " + unitLabel + " " + Math.round(100 * p) + "%", { sticky: true });
      }
    });
  }
  if (d.riskUrl) {
    fetch(d.riskUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (risk) {
        var source = null;
        var key = "iso3";
        if (risk.level === "cm") {
          source = basemapData;
        } else if (d.adminUrl && (risk.level === "adm1" || risk.level === "adm2")) {
          key = "pcode";
          source = fetch(d.adminUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); });
        } else if (risk.level === "pgm") {
          key = "gid";
          source = Promise.resolve(gridCells(risk.values));
        }
        if (!source) { return; }
        return source.then(function (gj) {
          var title = format(d.labelRisk || "Risk", { run: risk.run, month: risk.month });
          var layer = riskLayer(gj, key, risk).addTo(map);
          layerControl.addOverlay(layer, title);
          var legend = document.getElementById("risk-legend");
          if (legend) {
            legend.hidden = false;
            document.getElementById("risk-legend-title").textContent = title;
          }
        });
      })
      .catch(function () { /* the map works without the risk layer */ });
  }

  if (d.adminUrl) {
    fetch(d.adminUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (gj) {
        var layer = L.geoJSON(gj, {
          interactive: true,
          style: { color: "#3d4640", weight: 1, fill: false, dashArray: "4 3" },
          onEachFeature: function (f, lyr) {
            var p = f.properties || {};
            var text = (p.name || "") + (p.pcode ? " (" + p.pcode + ")" : "");
            if (text) { lyr.bindTooltip(text, { sticky: true }); }
          }
        }).addTo(map);
        layerControl.addOverlay(layer, d.labelBoundaries || "Boundaries");
      })
      .catch(function () { /* optional layer */ });
  }

  // Protected sites the viewer's tier may see (the server leaves the others out): a square
  // marker with the kind's letter, so kinds differ by shape and text, not colour alone.
  if (d.sitesUrl) {
    fetch(d.sitesUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (gj) {
        function kindLabel(kind) {
          return d["site" + kind.replace(/(^|_)([a-z])/g, function (_m, _s, c) { return c.toUpperCase(); })] || kind;
        }
        function tip(f) {
          return (f.properties.name || "") + " (" + kindLabel(f.properties.kind || "other") + ")";
        }
        var layer = L.geoJSON(gj, {
          style: { color: "#1b1f23", weight: 3, dashArray: "6 4" },
          pointToLayer: function (f, latlng) {
            var span = document.createElement("span");
            span.textContent = f.properties.symbol || "P";
            return L.marker(latlng, {
              icon: L.divIcon({ html: span, className: "tocsin-site", iconSize: L.point(22, 22) }),
              keyboard: true,
              title: tip(f),
              alt: tip(f)
            });
          },
          onEachFeature: function (f, lyr) { lyr.bindTooltip(tip(f)); }
        }).addTo(map);
        layerControl.addOverlay(layer, d.labelSites || "Protected sites");
      })
      .catch(function () { /* optional layer */ });
  }

  function clusterIcon(cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 30 : n < 100 ? 36 : n < 1000 ? 44 : 52;
    var cls = n < 100 ? "c1" : n < 1000 ? "c2" : "c3";
    var div = document.createElement("div");
    var span = document.createElement("span");
    span.textContent = n;
    span.style.lineHeight = (size - 4) + "px";
    div.appendChild(span);
    return L.divIcon({
      html: div,
      className: "tocsin-cluster " + cls,
      iconSize: L.point(size, size)
    });
  }

  // Clusters are computed for zoom levels 2 to 9 only: from 10, incidents are drawn one by
  // one (canvas circles), which keeps the initial clustering of 50,000 points well under a
  // second. Chunked, so the page stays responsive while it runs.
  var clusters = L.markerClusterGroup({
    chunkedLoading: true,
    chunkInterval: 250,
    chunkDelay: 5,
    disableClusteringAtZoom: 10,
    showCoverageOnHover: false,
    animate: !reducedMotion,
    maxClusterRadius: 60,
    iconCreateFunction: clusterIcon
  });
  overlays[d.labelIncidents || "Incidents"] = clusters;
  var layerControl = L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  map.addLayer(clusters);

  function popupContent(p, id) {
    var box = document.createElement("div");
    var dl = document.createElement("dl");
    box.appendChild(dl);
    function row(label, value) {
      if (value === null || value === undefined || value === "") { return; }
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = label;
      dd.textContent = value;
      dl.appendChild(dt);
      dl.appendChild(dd);
    }
    row(d.labelDate || "Date", p.date);
    row(d.labelType || "Type", typeLabel(p.type || "unknown"));
    row(d.labelFatalities || "Fatalities", p.fatalities);
    row(d.labelPlace || "Place", [p.place, p.admin1, p.country].filter(Boolean).join(", "));
    if (p.approx) { row("", d.labelApprox || "Approximate location"); }
    var link = document.createElement("a");
    link.href = "/incidents/" + encodeURIComponent(id);
    link.textContent = d.labelOpen || "Open";
    box.appendChild(link);
    return box;
  }

  // The bulk data holds positions and types only; a popup asks for its one incident.
  function openDetails(marker) {
    var popup = L.popup().setLatLng(marker.getLatLng()).setContent(d.labelLoading || "…").openOn(map);
    fetch(d.incidentUrl + encodeURIComponent(marker.feature.id) + ".json", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (p) { popup.setContent(popupContent(p, marker.feature.id)); })
      .catch(function () {
        var msg = document.createElement("p");
        msg.textContent = d.labelDetailsFailed || "Failed.";
        popup.setContent(msg);
      });
  }

  var byType = {};
  TYPES.forEach(function (t) { byType[t] = []; });

  // The data is compact arrays (GET /map/events.json): ids, coords [lon, lat, ...], one
  // digit per incident for its type. Markers carry their incident id for the popup.
  function toMarkers(data) {
    var styles = {};
    TYPES.forEach(function (t) {
      styles[t] = { radius: 6, weight: 1, color: "#ffffff", fillColor: colour(t), fillOpacity: 0.9 };
    });
    var ids = data.ids || [];
    var coords = data.coords || [];
    var codes = data.types || "";
    var names = data.type_names || TYPES;
    for (var i = 0; i < ids.length; i++) {
      var type = names[+codes.charAt(i)];
      if (!byType[type]) { type = "unknown"; }
      var m = L.circleMarker([coords[2 * i + 1], coords[2 * i]], styles[type]);
      m.feature = { id: ids[i] };
      byType[type].push(m);
    }
  }

  clusters.on("click", function (e) {
    if (e.layer && e.layer.feature) { openDetails(e.layer); }
  });

  function visibleMarkers() {
    var out = [];
    var boxes = document.querySelectorAll("#map-type-toggles input[data-type]");
    var on = {};
    TYPES.forEach(function (t) { on[t] = true; });
    Array.prototype.forEach.call(boxes, function (b) { on[b.getAttribute("data-type")] = b.checked; });
    TYPES.forEach(function (t) { if (on[t]) { out = out.concat(byType[t]); } });
    return out;
  }

  function draw(markers, onDone) {
    clusters.clearLayers();
    if (!markers.length) { onDone(); return; }
    clusters.options.chunkProgress = function (processed, total) {
      if (processed === total) {
        clusters.options.chunkProgress = null;
        // Clusters are added to the map right after the last progress call: wait one frame.
        requestAnimationFrame(function () { requestAnimationFrame(onDone); });
      }
    };
    clusters.addLayers(markers, true);
  }

  var toggles = document.getElementById("map-type-toggles");
  if (toggles) {
    toggles.hidden = false;
    toggles.addEventListener("change", function () {
      draw(visibleMarkers(), function () {});
    });
  }

  say(d.labelLoading || "Loading…");
  el.setAttribute("aria-busy", "true");
  var data = window.tocsinMapData || fetch(d.eventsUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  data
    .then(function (data) {
      performance.mark("tocsin:data-loaded");
      toMarkers(data);
      var markers = visibleMarkers();
      var shown = markers.length;
      if (shown) {
        var bounds = L.latLngBounds(markers.map(function (m) { return m.getLatLng(); }));
        map.fitBounds(bounds.pad(0.05), { maxZoom: 8, animate: false });
      }
      draw(markers, function () {
        performance.mark("tocsin:map-rendered");
        el.setAttribute("aria-busy", "false");
        el.dataset.state = "ready";
        el.dataset.markers = String(shown);
        var text = format(d.labelLoaded || "{shown}", { shown: shown, unmapped: data.unmapped || 0 });
        if (data.truncated) { text += " " + (d.labelTruncated || ""); }
        say(text);
      });
    })
    .catch(function () {
      el.setAttribute("aria-busy", "false");
      el.dataset.state = "failed";
      say(d.labelFailed || "Failed to load.");
    });
})();
