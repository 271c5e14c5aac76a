// The instance admin page (/admin/): queue depth, charts, workers, failed and stuck jobs, search.
// Same sign-in as the app (session cookie; writes carry the CSRF header). Anyone who is not an
// instance admin gets 404 from /api/admin, and this page then says "Not found".

import { ApiError, api } from "../api.js";
import { h, icon } from "../dom.js";
import { count, dateTime, plural } from "../format.js";
import { renderSignIn } from "../pages/signin.js";
import { barChart, lineChart, rate, seconds } from "./charts.js";
import { jobTable, searchSection } from "./jobs.js";

const REFRESH_MS = 10_000;
const root = document.getElementById("app");
const state = { me: null, window: "hour", timer: null, series: { hour: null, day: null } };

export function toast(message, { kind = "info", timeout = 6000 } = {}) {
  const item = h("div", { class: `toast toast-${kind}` }, message);
  document.getElementById("toasts").append(item);
  if (timeout) setTimeout(() => item.remove(), timeout);
  return item;
}

function brand() {
  return h(
    "div",
    { class: "brand" },
    h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }),
    h("span", {}, "ledgerflow"),
    h("span", { class: "badge admin-badge" }, "admin"),
  );
}

function centered(...children) {
  root.removeAttribute("aria-busy");
  root.replaceChildren(h("div", { class: "center-screen" }, h("section", { class: "panel narrow" }, brand(), ...children)));
}

function showNotFound() {
  document.title = "Not found · ledgerflow";
  centered(
    h("h1", {}, "Not found"),
    h("p", { class: "muted" }, "There is nothing at this address."),
    h("a", { href: "/", class: "btn btn-secondary" }, "Back to ledgerflow"),
  );
}

function showSignIn() {
  stopRefresh();
  root.removeAttribute("aria-busy");
  root.replaceChildren(renderSignIn({ onSignedIn: boot }));
}

async function boot() {
  try {
    state.me = await api("/api/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignIn();
    return centered(h("h1", {}, "Something went wrong"), h("p", { class: "error-box", role: "alert" }, err.message));
  }
  try {
    await api("/api/admin/depth");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return showNotFound();
    throw err;
  }
  renderShell();
}

async function signOut() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch {
    // Signed out either way.
  }
  showSignIn();
}

function section(id, title, ...rest) {
  return h(
    "section",
    { class: "section", id, "aria-labelledby": `${id}-title` },
    h("div", { class: "section-head" }, h("h2", { id: `${id}-title` }, title), ...rest),
    h("div", { class: "section-body" }),
  );
}

function body(id) {
  return document.querySelector(`#${id} .section-body`);
}

function renderShell() {
  document.title = "Admin · ledgerflow";
  root.removeAttribute("aria-busy");
  const windowPicker = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Chart window" },
    [["hour", "Last hour"], ["day", "Last day"]].map(([value, label]) =>
      h(
        "button",
        {
          type: "button",
          class: "seg",
          dataset: { window: value },
          "aria-pressed": String(state.window === value),
          onclick: () => {
            state.window = value;
            for (const b of windowPicker.querySelectorAll(".seg")) {
              b.setAttribute("aria-pressed", String(b.dataset.window === value));
            }
            refresh();
          },
        },
        label,
      ),
    ),
  );
  const header = h(
    "header",
    { class: "topbar" },
    brand(),
    h("nav", { class: "nav", "aria-label": "Main" }, h("a", { href: "/", class: "nav-link" }, icon("jobs", { size: 18 }), h("span", {}, "Back to the app"))),
    h(
      "div",
      { class: "topbar-right" },
      h("span", { class: "user-email muted" }, state.me.email),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Sign out", title: "Sign out", onclick: signOut }, icon("logout", { size: 18 })),
    ),
  );
  const refreshed = h("span", { id: "refreshed", class: "muted small", "aria-live": "off" });
  const main = h(
    "main",
    { id: "main", class: "main admin-main", tabindex: "-1" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Operations"), h("p", { class: "muted" }, "Every company's jobs, the workers running them, and what went wrong.")),
      h("div", { class: "toolbar-right" }, refreshed, h("button", { type: "button", class: "btn btn-secondary", onclick: () => refresh() }, "Refresh")),
    ),
    section("charts", "Throughput, failures and run times", windowPicker),
    section("depth", "Queue depth"),
    section("workers", "Workers"),
    section("failed", "Failed jobs"),
    section("stuck", "Stuck jobs"),
    section("search", "Search"),
  );
  root.replaceChildren(header, main);
  body("search").append(searchSection({ toast }));
  refresh();
  startRefresh();
}

async function load(path, fill) {
  try {
    fill(await api(path));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return showNotFound();
    if (err instanceof ApiError && err.status === 401) return showSignIn();
    toast(err.message || String(err), { kind: "error" });
  }
}

function refresh() {
  const options = { toast, onChanged: refresh };
  return Promise.all([
    load(`/api/admin/series?window=day`, (s) => {
      state.series.day = s;
      renderDepthTotals();
      if (state.window === "day") renderCharts(s);
    }),
    state.window === "hour" ? load(`/api/admin/series?window=hour`, (s) => renderCharts(s)) : null,
    load("/api/admin/depth", (d) => {
      state.depth = d;
      renderDepthTotals();
    }),
    load("/api/admin/workers", renderWorkers),
    load("/api/admin/jobs/failed?limit=20", (page) => {
      body("failed").replaceChildren(jobTable(page.jobs, options, "No failed jobs."));
    }),
    load("/api/admin/jobs/stuck?limit=20", (stuck) => renderStuck(stuck, options)),
  ]).then(() => {
    const stamp = document.getElementById("refreshed");
    if (stamp) stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  });
}

function startRefresh() {
  stopRefresh();
  state.timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
}

function stopRefresh() {
  clearInterval(state.timer);
  state.timer = null;
}

function renderCharts(series) {
  const target = body("charts");
  if (!target) return;
  const common = { points: series.points, bucketSeconds: series.bucket_seconds };
  const per = series.bucket_seconds >= 3600 ? "hour" : "minute";
  target.replaceChildren(
    h(
      "div",
      { class: "chart-grid" },
      barChart({
        id: "chart-throughput",
        title: `Jobs finished per ${per}`,
        stacks: [
          { key: "complete", className: "s-complete", label: "complete" },
          { key: "failed", className: "s-failed", label: "failed" },
          { key: "cancelled", className: "s-cancelled", label: "cancelled" },
        ],
        format: count,
        ...common,
      }),
      lineChart({
        id: "chart-failure-rate",
        title: "Failure rate",
        lines: [{ key: "failure_rate", className: "s-failed", label: "failed" }],
        format: rate,
        ...common,
      }),
      lineChart({
        id: "chart-run-time",
        title: "Run time",
        lines: [
          { key: "p50", className: "s-p50", label: "p50" },
          { key: "p95", className: "s-p95", label: "p95" },
          { key: "p99", className: "s-p99", label: "p99" },
        ],
        format: seconds,
        ...common,
      }),
    ),
  );
}

function renderDepthTotals() {
  const target = body("depth");
  if (!target || !state.depth) return;
  const day = (state.series.day && state.series.day.by_type) || {};
  const rows = new Map();
  for (const r of state.depth.rows) {
    const key = `${r.queue}\u0000${r.type}`;
    const row = rows.get(key) || { queue: r.queue, type: r.type, ready: 0, scheduled: 0, running: 0, oldest: null };
    if (r.status === "pending") {
      row.ready += r.ready;
      row.scheduled += r.count - r.ready;
      row.oldest = r.oldest_run_at;
    } else {
      row.running += r.count;
    }
    rows.set(key, row);
  }
  for (const type of Object.keys(day)) {
    if (![...rows.values()].some((r) => r.type === type)) {
      rows.set(`\u0000${type}`, { queue: "", type, ready: 0, scheduled: 0, running: 0, oldest: null });
    }
  }
  const cells = (...values) => values.map((v) => h("td", { class: "num" }, v));
  const list = [...rows.values()].sort((a, b) => a.type.localeCompare(b.type));
  target.replaceChildren(
    list.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table", id: "depth-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Type", "Queue", "Ready", "Scheduled", "Running", "Waiting since", "Done 24 h", "Failed 24 h", "Cancelled 24 h"].map((c) =>
                  h("th", { scope: "col", class: c === "Type" || c === "Queue" || c === "Waiting since" ? "" : "num" }, c),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              list.map((r) => {
                const totals = day[r.type] || { complete: 0, failed: 0, cancelled: 0 };
                return h(
                  "tr",
                  { dataset: { type: r.type } },
                  h("td", { class: "job-type" }, r.type),
                  h("td", {}, r.queue),
                  cells(count(r.ready), count(r.scheduled), count(r.running)),
                  h("td", { class: "nowrap muted" }, r.oldest ? dateTime(r.oldest) : ""),
                  cells(count(totals.complete), count(totals.failed), count(totals.cancelled)),
                );
              }),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No jobs waiting or running, and none in the last day."),
    h("p", { class: "muted small" }, `${plural(state.depth.pending, "job")} pending · ${count(state.depth.running)} running`),
  );
}

function ago(iso) {
  const secondsAgo = Math.max(0, (Date.now() - new Date(iso)) / 1000);
  if (secondsAgo < 90) return `${Math.round(secondsAgo)} s ago`;
  if (secondsAgo < 5400) return `${Math.round(secondsAgo / 60)} min ago`;
  return dateTime(iso);
}

function renderWorkers(data) {
  const target = body("workers");
  if (!target) return;
  const badge = { ok: ["badge-ok", "alive"], late: ["badge-error", "heartbeat late"], stopped: ["", "stopped"] };
  target.replaceChildren(
    data.workers.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table", id: "workers-table" },
            h("thead", {}, h("tr", {}, ["Host", "PID", "Worker", "Queues", "Started", "Last heartbeat", "State", "Jobs in hand"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              data.workers.map((w) =>
                h(
                  "tr",
                  { class: `worker-row worker-${w.state}`, dataset: { workerId: w.id, state: w.state } },
                  h("td", {}, w.host),
                  h("td", { class: "num" }, String(w.pid)),
                  h("td", {}, h("code", { class: "job-id" }, w.id)),
                  h("td", {}, `${w.queues.join(", ")} × ${w.concurrency}`),
                  h("td", { class: "nowrap muted" }, dateTime(w.started_at)),
                  h("td", { class: "nowrap" }, ago(w.heartbeat_at)),
                  h("td", {}, h("span", { class: `badge ${badge[w.state][0]}` }, badge[w.state][1])),
                  h(
                    "td",
                    {},
                    h("span", { class: "num" }, String(w.jobs_in_hand)),
                    w.jobs.map((j) =>
                      h(
                        "div",
                        { class: "held-job small" },
                        h("code", { class: "job-id" }, j.id),
                        ` ${j.type} · ${j.company_id}`,
                        j.rescue_pending ? h("span", { class: "badge badge-warn rescue-badge" }, "rescue pending") : null,
                      ),
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No worker has checked in."),
    h("p", { class: "muted small" }, `Late: no heartbeat for ${seconds(data.late_after_seconds)}.`),
  );
}

function renderStuck(stuck, options) {
  const target = body("stuck");
  if (!target) return;
  target.replaceChildren(
    h("h3", {}, `Running with an expired lease (${count(stuck.expired_total)})`),
    jobTable(stuck.expired, options, "None: every running job is held by a live worker."),
    h("h3", {}, `Pending for over ${seconds(stuck.overdue_after_seconds)} past their time (${count(stuck.overdue_total)})`),
    jobTable(stuck.overdue, options, "None: nothing waits too long."),
  );
}

window.addEventListener("lf:signed-out", () => {
  if (state.me) showSignIn();
});
window.addEventListener("pagehide", stopRefresh);

boot().catch((err) => centered(h("h1", {}, "Something went wrong"), h("p", { class: "error-box", role: "alert" }, err.message || String(err))));
