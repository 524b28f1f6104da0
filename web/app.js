// Minimal live view of /api/v1/devices and /api/v1/points, refreshed every second.
"use strict";

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fmt(p) {
  if (p.value === null) return p.state === "na" ? "n/a" : "—";
  const v = p.value;
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

async function refresh() {
  try {
    const [h, d, p] = await Promise.all(["health", "devices", "points"].map(
      (u) => fetch("/api/v1/" + u).then((r) => r.json())));
    document.getElementById("site").textContent = h.site;
    const db = document.querySelector("#devices tbody");
    db.replaceChildren(...d.devices.map((x) => {
      const tr = document.createElement("tr");
      tr.append(cell(x.name), cell(x.product_name || "?"), cell(x.service || "?"),
        cell(x.serial || ""), cell(x.firmware || ""), cell(x.state, "state-" + x.state));
      return tr;
    }));
    const pb = document.querySelector("#points tbody");
    pb.replaceChildren(...Object.entries(p.points).map(([k, v]) => {
      const tr = document.createElement("tr");
      tr.className = v.state;
      const age = v.state === "stale" && v.age_ms !== null ? " (" + Math.round(v.age_ms / 1000) + " s old)" : "";
      tr.append(cell(k), cell(fmt(v), "v"), cell(v.unit), cell(v.state + age));
      return tr;
    }));
  } catch (e) {
    document.getElementById("site").textContent = "sitewatch (daemon not reachable)";
  }
}

refresh();
setInterval(refresh, 1000);
