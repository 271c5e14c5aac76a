// Job lists of the admin page: failed and stuck jobs, and the search form with its results.
// Every row shows type, company, status, attempts and error; its details (an expandable row)
// show the traceback and meta; Retry and Cancel post to /api/admin/jobs/{id}/retry|cancel.

import { api } from "../api.js";
import { h } from "../dom.js";
import { STATUS_LABELS, count, dateTime } from "../format.js";

const FINAL = ["complete", "failed", "cancelled"];

function statusPill(job) {
  return h(
    "span",
    { class: `status-pill status-${job.status}` },
    STATUS_LABELS[job.status] || job.status,
  );
}

/** A <tbody> of one job: the summary row and its (expandable) details row. */
export function jobRows(job, { onChanged, toast, extra = null }) {
  const detailsId = `details-${job.id}`;
  const retry = h(
    "button",
    {
      type: "button",
      class: "btn btn-small btn-secondary retry-btn",
      dataset: { jobId: job.id },
      disabled: !["failed", "cancelled"].includes(job.status),
      onclick: () => act(job, "retry", retry),
    },
    "Retry",
  );
  const cancel = h(
    "button",
    {
      type: "button",
      class: "btn btn-small btn-ghost cancel-btn",
      dataset: { jobId: job.id },
      disabled: FINAL.includes(job.status),
      onclick: () => act(job, "cancel", cancel),
    },
    "Cancel",
  );
  const toggle = h(
    "button",
    {
      type: "button",
      class: "link details-toggle",
      "aria-expanded": "false",
      "aria-controls": detailsId,
      onclick: () => {
        const open = details.hidden;
        details.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
      },
    },
    h("code", { class: "job-id" }, job.id),
  );
  const summary = h(
    "tr",
    { class: "job-row", dataset: { jobId: job.id, status: job.status } },
    h("td", {}, toggle, h("div", { class: "job-type" }, job.type)),
    h("td", {}, job.company_id || h("span", { class: "muted" }, "—")),
    h(
      "td",
      {},
      statusPill(job),
      job.rescue_pending ? h("span", { class: "badge badge-warn rescue-badge" }, "rescue pending") : null,
      extra,
    ),
    h("td", { class: "num" }, `${job.attempts}/${job.max_attempts}`),
    h("td", { class: "nowrap muted" }, dateTime(job.finished_at || job.started_at || job.created_at)),
    h("td", { class: "error-cell" }, job.error ? h("span", { class: "text-error" }, job.error) : ""),
    h("td", { class: "actions" }, retry, cancel),
  );
  const details = h(
    "tr",
    { class: "job-details", id: detailsId, hidden: true },
    h(
      "td",
      { colspan: 7 },
      h(
        "dl",
        { class: "job-facts" },
        fact("Queue", job.queue),
        fact("Created", dateTime(job.created_at)),
        fact("Run at", dateTime(job.run_at)),
        fact("Started", dateTime(job.started_at)),
        fact("Finished", dateTime(job.finished_at)),
        fact("Worker", job.worker_id || "—"),
        fact("Lease until", dateTime(job.lease_expires_at) || "—"),
        fact("Progress", `${job.progress}%${job.message ? ` · ${job.message}` : ""}`),
      ),
      h("h4", {}, "Meta"),
      h("pre", { class: "code meta-json" }, JSON.stringify(job.meta, null, 2)),
      h("h4", {}, "Arguments"),
      h("pre", { class: "code" }, JSON.stringify(job.args, null, 2)),
      job.traceback ? [h("h4", {}, "Traceback"), h("pre", { class: "code traceback" }, job.traceback)] : null,
    ),
  );

  async function act(target, action, button) {
    button.disabled = true;
    try {
      const answer = await api(`/api/admin/jobs/${encodeURIComponent(target.id)}/${action}`, {
        method: "POST",
      });
      toast(
        action === "retry"
          ? `Retried ${target.id} as ${answer.id}.`
          : `${target.id} is ${answer.status}${answer.cancel_requested && answer.status === "running" ? " (cancel requested)" : ""}.`,
      );
      onChanged();
    } catch (err) {
      toast(err.message || String(err), { kind: "error" });
      button.disabled = false;
    }
  }

  return h("tbody", { class: "job", dataset: { jobId: job.id } }, summary, details);
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value || "—")];
}

/** A table of jobs (or an empty note). */
export function jobTable(jobs, options, empty = "Nothing here.") {
  if (!jobs.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table jobs-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Job", "Company", "Status", "Attempts", "When", "Error", ""].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      jobs.map((job) => jobRows(job, options)),
    ),
  );
}

/** The search form and its paginated results. */
export function searchSection({ toast, types = [] }) {
  const input = (name, label, attrs = {}) => {
    const el = h("input", { id: `search-${name}`, name, type: "text", ...attrs });
    return [el, h("label", { class: "field" }, label, el)];
  };
  const [id, idField] = input("id", "Job id", { placeholder: "job_…", size: 30 });
  const [company, companyField] = input("company", "Company", { placeholder: "acme" });
  const [type, typeField] = input("type", "Type", { list: "search-types" });
  const [from, fromField] = input("created_from", "Created from", { type: "datetime-local" });
  const [to, toField] = input("created_to", "Created before", { type: "datetime-local" });
  const [meta, metaField] = input("meta", "Meta", { placeholder: "file_name=statement.csv", size: 26 });
  const status = h(
    "select",
    { id: "search-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  const results = h("div", { id: "search-results" });
  const more = h("button", { type: "button", class: "btn btn-secondary", hidden: true }, "Load more");
  const note = h("p", { class: "muted search-note", "aria-live": "polite" });
  let query = null;
  let shown = [];

  async function run(cursor = null) {
    const params = new URLSearchParams(query);
    if (cursor) params.set("cursor", cursor);
    try {
      const page = await api(`/api/admin/jobs?${params}`);
      shown = cursor ? [...shown, ...page.jobs] : page.jobs;
      results.replaceChildren(jobTable(shown, { toast, onChanged: () => run() }, "No job matches."));
      more.hidden = !page.next_cursor;
      more.onclick = () => run(page.next_cursor);
      note.textContent = `${count(shown.length)} shown${page.next_cursor ? ", more below" : ""}`;
    } catch (err) {
      results.replaceChildren(h("p", { class: "error-box", role: "alert" }, err.message));
    }
  }

  const form = h(
    "form",
    {
      id: "search-form",
      class: "panel search-form",
      onsubmit: (event) => {
        event.preventDefault();
        query = new URLSearchParams();
        for (const [key, el] of [["id", id], ["company", company], ["type", type], ["status", status]]) {
          if (el.value.trim()) query.set(key, el.value.trim());
        }
        for (const [key, el] of [["created_from", from], ["created_to", to]]) {
          if (el.value) query.set(key, new Date(el.value).toISOString());
        }
        for (const pair of meta.value.split(",").map((p) => p.trim()).filter(Boolean)) {
          query.append("meta", pair);
        }
        run();
      },
    },
    h(
      "div",
      { class: "form-row" },
      idField,
      companyField,
      typeField,
      h("label", { class: "field" }, "Status", status),
    ),
    h(
      "div",
      { class: "form-row" },
      fromField,
      toField,
      metaField,
      h("button", { type: "submit", class: "btn" }, "Search"),
    ),
    h("datalist", { id: "search-types" }, types.map((t) => h("option", { value: t }))),
  );
  return h("div", {}, form, note, results, h("div", { class: "pager" }, more));
}
