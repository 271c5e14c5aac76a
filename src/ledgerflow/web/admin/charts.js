// Small inline SVG charts for the admin page: stacked bars and multi-line sparklines. No library:
// a chart is a <figure> with a caption, an <svg role="img"> with a text summary as its label, and
// a <title> per bar or point so hovering shows the exact value.

import { h } from "../dom.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 96;
const PAD = { top: 8, right: 6, bottom: 16, left: 6 };

function svgEl(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

function frame(label) {
  return svgEl("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: "none",
    class: "chart-svg",
    role: "img",
    "aria-label": label,
  });
}

function timeLabel(iso, bucketSeconds) {
  const d = new Date(iso);
  return bucketSeconds >= 3600
    ? d.toLocaleTimeString(undefined, { hour: "2-digit" })
    : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

function axis(svg, points, bucketSeconds) {
  if (!points.length) return;
  const baseline = HEIGHT - PAD.bottom;
  svg.append(
    svgEl("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: baseline, y2: baseline, class: "chart-axis" }),
    svgEl("text", { x: PAD.left, y: HEIGHT - 3, class: "chart-tick" }, timeLabel(points[0].start, bucketSeconds)),
    svgEl(
      "text",
      { x: WIDTH - PAD.right, y: HEIGHT - 3, class: "chart-tick", "text-anchor": "end" },
      "now",
    ),
  );
}

/**
 * Stacked bars, one per point: ``stacks`` is [{key, className, label}] bottom to top.
 * Returns the <figure>.
 */
export function barChart({ id, title, points, stacks, bucketSeconds, format = String }) {
  const totals = points.map((p) => stacks.reduce((sum, s) => sum + (p[s.key] || 0), 0));
  const max = Math.max(1, ...totals);
  const all = totals.reduce((a, b) => a + b, 0);
  const label = `${title}: ${stacks
    .map((s) => `${format(points.reduce((sum, p) => sum + (p[s.key] || 0), 0))} ${s.label}`)
    .join(", ")} in ${points.length} buckets, at most ${format(max)} in one`;
  const svg = frame(label);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, points.length);
  const barWidth = Math.max(1, slot * 0.78);
  points.forEach((p, i) => {
    let y = HEIGHT - PAD.bottom;
    const x = PAD.left + i * slot + (slot - barWidth) / 2;
    const when = timeLabel(p.start, bucketSeconds);
    for (const s of stacks) {
      const value = p[s.key] || 0;
      if (!value) continue;
      const height = Math.max(1, (value / max) * plotHeight);
      y -= height;
      svg.append(
        svgEl(
          "rect",
          { x: x.toFixed(2), y: y.toFixed(2), width: barWidth.toFixed(2), height: height.toFixed(2), class: `bar ${s.className}` },
          svgEl("title", {}, `${when}: ${format(value)} ${s.label}`),
        ),
      );
    }
  });
  axis(svg, points, bucketSeconds);
  return figure(id, title, `${format(all)} total · peak ${format(max)}`, svg, stacks);
}

/**
 * Lines over the points: ``lines`` is [{key, className, label}]; ``null`` values leave gaps.
 * Returns the <figure>.
 */
export function lineChart({ id, title, points, lines, bucketSeconds, format = String }) {
  const values = points.flatMap((p) => lines.map((l) => p[l.key])).filter((v) => v !== null && v !== undefined);
  const max = values.length ? Math.max(...values) : 0;
  const top = max > 0 ? max : 1;
  const latest = [...points].reverse().find((p) => lines.some((l) => p[l.key] !== null && p[l.key] !== undefined));
  const label = latest
    ? `${title}, latest: ${lines.map((l) => `${l.label} ${fmt(latest[l.key], format)}`).join(", ")}; highest ${format(max)}`
    : `${title}: no data yet`;
  const svg = frame(label);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = plotWidth / Math.max(1, points.length - 1);
  const yOf = (v) => PAD.top + plotHeight - (v / top) * plotHeight;
  for (const line of lines) {
    let d = "";
    let pen = false;
    points.forEach((p, i) => {
      const v = p[line.key];
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      const x = PAD.left + i * step;
      d += `${pen ? "L" : "M"}${x.toFixed(2)},${yOf(v).toFixed(2)}`;
      pen = true;
      svg.append(
        svgEl(
          "circle",
          { cx: x.toFixed(2), cy: yOf(v).toFixed(2), r: 1.6, class: `dot-point ${line.className}` },
          svgEl("title", {}, `${timeLabel(p.start, bucketSeconds)}: ${line.label} ${format(v)}`),
        ),
      );
    });
    if (d) svg.prepend(svgEl("path", { d, class: `line ${line.className}` }));
  }
  axis(svg, points, bucketSeconds);
  const summary = latest ? lines.map((l) => `${l.label} ${fmt(latest[l.key], format)}`).join(" · ") : "no data yet";
  return figure(id, title, summary, svg, lines);
}

function fmt(value, format) {
  return value === null || value === undefined ? "–" : format(value);
}

function figure(id, title, summary, svg, keys) {
  return h(
    "figure",
    { class: "chart", id },
    h(
      "figcaption",
      { class: "chart-head" },
      h("span", { class: "chart-title" }, title),
      h("span", { class: "chart-summary muted" }, summary),
    ),
    svg,
    keys.length > 1
      ? h(
          "div",
          { class: "chart-legend", "aria-hidden": "true" },
          keys.map((k) => h("span", { class: "legend-item" }, h("i", { class: `swatch ${k.className}` }), k.label)),
        )
      : null,
  );
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 90) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

export function rate(value) {
  if (value === null || value === undefined) return "–";
  return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
}
