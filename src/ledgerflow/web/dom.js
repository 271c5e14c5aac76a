// A tiny element builder: h("button", {class: "btn", onclick}, "Start"). Text is always set as
// text, never parsed as HTML, so data from the server can't inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else if (key in el && !key.includes("-") && key !== "list" && key !== "form") {
      el[key] = value;
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An inline SVG icon from our small set (see ICONS). */
export function icon(name, { size = 20, label = null } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.classList.add("icon", `icon-${name}`);
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  for (const d of ICONS[name] || []) {
    const [shape, attrs] = d;
    const node = document.createElementNS(ns, shape);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    svg.append(node);
  }
  return svg;
}

const ICONS = {
  pending: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "M12 7v5l3 2" }],
  ],
  running: [["path", { d: "M21 12a9 9 0 1 1-6.2-8.56" }]],
  complete: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "m8 12.5 2.7 2.7L16.5 9.5" }],
  ],
  failed: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "m9 9 6 6M15 9l-6 6" }],
  ],
  cancelled: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "M5.7 5.7l12.6 12.6" }],
  ],
  upload: [
    ["path", { d: "M12 16V4m0 0L7 9m5-5 5 5" }],
    ["path", { d: "M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3" }],
  ],
  tag: [
    ["path", { d: "M3 12V4a1 1 0 0 1 1-1h8l9 9-9 9z" }],
    ["circle", { cx: 7.5, cy: 7.5, r: 1.5 }],
  ],
  receipt: [
    ["path", { d: "M6 3h12v18l-3-2-3 2-3-2-3 2z" }],
    ["path", { d: "M9 8h6M9 12h6M9 16h3" }],
  ],
  export: [
    ["path", { d: "M12 3v12m0 0-4-4m4 4 4-4" }],
    ["path", { d: "M5 21h14" }],
  ],
  check: [["path", { d: "m5 12.5 4.5 4.5L19 7.5" }]],
  close: [["path", { d: "M6 6l12 12M18 6 6 18" }]],
  jobs: [
    ["rect", { x: 3, y: 4, width: 18, height: 16, rx: 2 }],
    ["path", { d: "M7 9h6M7 13h10M7 17h4" }],
  ],
  list: [["path", { d: "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01" }]],
  code: [["path", { d: "m8 8-4 4 4 4m8-8 4 4-4 4" }]],
  copy: [
    ["rect", { x: 9, y: 9, width: 11, height: 11, rx: 2 }],
    ["path", { d: "M5 15V5a1 1 0 0 1 1-1h10" }],
  ],
  logout: [["path", { d: "M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11" }]],
  info: [
    ["circle", { cx: 12, cy: 12, r: 9 }],
    ["path", { d: "M12 11v5M12 8h.01" }],
  ],
  download: [
    ["path", { d: "M12 4v11m0 0-4-4m4 4 4-4" }],
    ["path", { d: "M4 19h16" }],
  ],
};
