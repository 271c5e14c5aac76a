// Background jobs: start any job type, watch every running job live, browse the history, and
// copy working curl / Python examples filled with this user's company and job ids.

import { api, hasEndpoint } from "../api.js";
import { h, icon } from "../dom.js";
import { JOB_TYPES, STATUS_LABELS, dateTime, duration, jobTitle, resultSummary } from "../format.js";
import { isFinal } from "../jobStatus.js";
import { InlineProgress } from "../progress.js";
import {
  ENDPOINTS,
  cancelJob,
  dropZone,
  isMissing,
  jobCard,
  notAvailable,
  pageHeader,
  retryJob,
  startJob,
  uploadKind,
  uploadReceipt,
  uploadStatement,
} from "./common.js";
import { codeExamples } from "./code.js";

const HISTORY_PAGE = 10;
const REFRESH_MS = 10_000;

export function render(main, ctx) {
  const companyId = ctx.company.id;
  const canWrite = ctx.company.role !== "viewer";
  const cards = new Map(); // job id -> ProgressCard
  let disposed = false;

  // --- live progress ---------------------------------------------------------------------
  const liveList = h("div", { class: "card-grid", id: "live-jobs" });
  const liveEmpty = h("p", { class: "empty" }, "No jobs running right now. Start one above, or drop a file.");
  const liveSection = h(
    "section",
    { class: "section", "aria-labelledby": "live-title" },
    h("div", { class: "section-head" }, h("h2", { id: "live-title" }, "Live progress")),
    liveEmpty,
    liveList,
  );

  function syncEmpty() {
    liveEmpty.hidden = liveList.children.length > 0;
  }

  function showJob(job, { top = true } = {}) {
    if (cards.has(job.id)) return cards.get(job.id);
    const card = jobCard(ctx, job, {
      onRetried: (fresh) => {
        showJob(fresh);
        history.reload();
      },
      onDismiss: (j) => {
        cards.delete(j.id);
        queueMicrotask(syncEmpty);
      },
    });
    cards.set(job.id, card);
    if (top) liveList.prepend(card.el);
    else liveList.append(card.el);
    syncEmpty();
    examples.update({ jobId: job.id });
    return card;
  }

  async function launch(button, starter) {
    if (button) button.disabled = true;
    try {
      const job = await starter();
      showJob(job);
      history.reload();
      return job;
    } catch (err) {
      if (isMissing(err)) {
        ctx.toast("That job type isn't available on this server yet (issue 5).", { kind: "error" });
      } else {
        ctx.toast(err.message, { kind: "error" });
      }
      throw err;
    } finally {
      if (button) button.disabled = !canWrite;
    }
  }

  // --- start cards -----------------------------------------------------------------------
  const uploadStatus = h("p", { class: "muted small", "aria-live": "polite" });
  const zone = dropZone({
    id: "upload-input",
    accept: ".csv,.ofx,.qfx,.tsv,.txt,.jpg,.jpeg,.png,.pdf,text/csv,image/jpeg,image/png,application/pdf",
    title: "Drop bank statements or receipts here",
    hint: "CSV, OFX or QFX statements are imported and categorized; JPEG, PNG or PDF receipts are read by OCR.",
    onFiles: async (files) => {
      const skipped = [];
      for (const file of files) {
        const kind = uploadKind(file);
        if (!kind) {
          skipped.push(file.name);
          continue;
        }
        uploadStatus.textContent = `Uploading ${file.name}…`;
        try {
          const job = await launch(null, async () => {
            const started =
              kind === "receipt" ? await uploadReceipt(companyId, file) : await uploadStatement(companyId, file);
            return { ...started, file_name: file.name };
          });
          uploadStatus.textContent = `Started ${jobTitle(job).toLowerCase()} for ${file.name}.`;
        } catch (err) {
          uploadStatus.textContent = `${file.name}: ${err.message}`;
        }
      }
      if (skipped.length) {
        ctx.toast(`Skipped ${skipped.join(", ")}: not a CSV/OFX/QFX statement or a JPEG/PNG/PDF receipt.`, {
          kind: "error",
        });
      }
    },
  });
  if (!canWrite) zone.input.disabled = true;

  const starters = [];
  function starterCard({ key, title, description, iconName, fields = [], onStart, button = "Start" }) {
    const startBtn = h("button", { type: "submit", class: "btn", disabled: !canWrite }, button);
    const note = h("div", { class: "starter-note" });
    const form = h(
      "form",
      {
        class: "starter",
        dataset: { jobKind: key },
        "aria-labelledby": `start-${key}-title`,
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await launch(startBtn, onStart);
          } catch (err) {
            if (isMissing(err)) note.replaceChildren(notAvailable(title, null, { compact: true }));
          }
        },
      },
      h(
        "div",
        { class: "starter-head" },
        h("span", { class: "starter-icon" }, icon(iconName, { size: 20 })),
        h("h3", { id: `start-${key}-title` }, title),
      ),
      h("p", { class: "muted small" }, description),
      fields.length ? h("div", { class: "starter-fields" }, fields) : null,
      note,
      h("div", { class: "starter-actions" }, startBtn),
    );
    hasEndpoint(ENDPOINTS[key].path).then((yes) => {
      if (!yes && !disposed) {
        note.replaceChildren(notAvailable(title, null, { compact: true }));
        startBtn.disabled = true;
        form.dataset.unavailable = "true";
      }
    });
    starters.push(form);
    return form;
  }

  const limitInput = h("input", { id: "categorize-limit", type: "number", min: 1, max: 1000000, placeholder: "All" });
  const ocrInput = h("input", { id: "ocr-file", type: "file", accept: ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf" });
  const exportFormat = h(
    "select",
    { id: "export-format" },
    h("option", { value: "iif" }, "IIF file (QuickBooks Desktop)"),
    h("option", { value: "csv" }, "CSV journal import"),
    h("option", { value: "api" }, "QuickBooks Online (API)"),
  );
  const exportSince = h("input", { id: "export-since", type: "date" });
  const minConfidence = h("input", { id: "approve-min", type: "number", min: 0, max: 1, step: 0.01, value: "0.95" });

  const startSection = h(
    "section",
    { class: "section", "aria-labelledby": "start-title" },
    h("div", { class: "section-head" }, h("h2", { id: "start-title" }, "Start a job")),
    h(
      "div",
      { class: "start-grid" },
      h(
        "div",
        { class: "starter starter-upload", dataset: { jobKind: "upload" } },
        h(
          "div",
          { class: "starter-head" },
          h("span", { class: "starter-icon" }, icon("upload", { size: 20 })),
          h("h3", {}, "Upload & categorize"),
        ),
        zone,
        uploadStatus,
      ),
      starterCard({
        key: "categorize",
        title: "Categorize",
        iconName: "tag",
        description: "Categorize every transaction still waiting for a category.",
        fields: [h("label", { for: "categorize-limit" }, "At most"), limitInput],
        onStart: () => {
          const limit = limitInput.value ? Number(limitInput.value) : undefined;
          return startJob("categorize", companyId, { company_id: companyId, ...(limit ? { limit } : {}) });
        },
      }),
      starterCard({
        key: "ocr",
        title: "Receipt OCR",
        iconName: "receipt",
        description: "Read vendor, date and total from a receipt and match it to a transaction.",
        fields: [h("label", { for: "ocr-file" }, "Receipt"), ocrInput],
        onStart: async () => {
          const file = ocrInput.files[0];
          if (!file) throw new Error("Choose a receipt image or PDF first.");
          const job = await uploadReceipt(companyId, file);
          ocrInput.value = "";
          return { ...job, file_name: file.name };
        },
      }),
      starterCard({
        key: "exportQbo",
        title: "QuickBooks export",
        iconName: "export",
        description: "Send approved journal entries to QuickBooks, or build an IIF/CSV file.",
        fields: [
          h("label", { for: "export-format" }, "Format"),
          exportFormat,
          h("label", { for: "export-since" }, "Since"),
          exportSince,
        ],
        onStart: () =>
          startJob("exportQbo", companyId, {
            company_id: companyId,
            format: exportFormat.value,
            ...(exportSince.value ? { since: exportSince.value } : {}),
          }),
      }),
      starterCard({
        key: "bulkApprove",
        title: "Bulk approve",
        iconName: "check",
        description: "Approve every categorized transaction at or above a confidence.",
        fields: [h("label", { for: "approve-min" }, "Min. confidence"), minConfidence],
        onStart: () =>
          startJob("bulkApprove", companyId, {
            company_id: companyId,
            min_confidence: Number(minConfidence.value || 0.95),
          }),
      }),
    ),
    canWrite ? null : h("p", { class: "muted" }, "You're a viewer in this company: you can watch jobs but not start them."),
  );

  // --- history ---------------------------------------------------------------------------
  const history = historyTable(ctx, {
    canWrite,
    onRetried: (job) => {
      showJob(job);
      history.reload();
    },
    onActive: (job) => showJob(job, { top: false }),
    onFirst: (job) => examples.update({ jobId: job.id }),
  });

  // --- code ------------------------------------------------------------------------------
  const examples = codeExamples(ctx);

  main.append(
    pageHeader(
      "Background jobs",
      "Imports, categorization, OCR and exports run in the background. Follow them live here, or from your own code.",
    ),
    startSection,
    liveSection,
    history.el,
    examples.el,
  );
  syncEmpty();

  // Jobs already running (started elsewhere, or before a reload) get their cards too.
  (async () => {
    for (const status of ["running", "pending"]) {
      try {
        const page = await api(`/api/jobs/company/${encodeURIComponent(companyId)}?status=${status}&limit=20`);
        for (const job of page.jobs.slice().reverse()) showJob(job);
      } catch (err) {
        ctx.toast(err.message, { kind: "error" });
      }
    }
  })();
  history.reload();
  const offFinished = ctx.tracker.onFinished(() => history.reload());
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") history.reload({ quiet: true });
  }, REFRESH_MS);

  return () => {
    disposed = true;
    clearInterval(timer);
    offFinished();
    history.dispose();
  };
}

function historyTable(ctx, { canWrite, onRetried, onActive, onFirst }) {
  const companyId = ctx.company.id;
  const statusFilter = h(
    "select",
    { id: "history-status", onchange: () => reset() },
    h("option", { value: "" }, "Any status"),
    Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  const typeFilter = h(
    "select",
    { id: "history-type", onchange: () => reset() },
    h("option", { value: "" }, "Any type"),
    Object.entries(JOB_TYPES).map(([value, label]) => h("option", { value }, label)),
  );
  const body = h("tbody");
  const newer = h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => go(-1) }, "← Newer");
  const older = h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => go(1) }, "Older →");
  const pageLabel = h("span", { class: "muted small" });
  const status = h("p", { class: "muted small", "aria-live": "polite" });
  const el = h(
    "section",
    { class: "section", "aria-labelledby": "history-title" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "history-title" }, "Recent jobs"),
      h(
        "div",
        { class: "filters" },
        h("label", { for: "history-status", class: "visually-hidden" }, "Status"),
        statusFilter,
        h("label", { for: "history-type", class: "visually-hidden" }, "Type"),
        typeFilter,
      ),
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table", id: "history-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Job"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col" }, "Started"),
            h("th", { scope: "col" }, "Took"),
            h("th", { scope: "col" }, "Outcome"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        body,
      ),
    ),
    h("div", { class: "pager" }, newer, pageLabel, older),
    status,
  );

  let cursors = [null];
  let index = 0;
  let nextCursor = null;
  let unfollows = [];
  let loading = 0;

  function reset() {
    cursors = [null];
    index = 0;
    reload();
  }

  function go(step) {
    if (step > 0 && nextCursor) {
      cursors[index + 1] = nextCursor;
      index += 1;
    } else if (step < 0 && index > 0) {
      index -= 1;
    } else {
      return;
    }
    reload();
  }

  async function reload({ quiet = false } = {}) {
    const ticket = ++loading;
    const q = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if (statusFilter.value) q.set("status", statusFilter.value);
    if (typeFilter.value) q.set("type", typeFilter.value);
    if (cursors[index]) q.set("cursor", cursors[index]);
    if (!quiet) status.textContent = "Loading…";
    let page;
    try {
      page = await api(`/api/jobs/company/${encodeURIComponent(companyId)}?${q}`);
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    if (ticket !== loading) return;
    status.textContent = "";
    nextCursor = page.next_cursor;
    renderRows(page.jobs);
    newer.disabled = index === 0;
    older.disabled = !nextCursor;
    pageLabel.textContent = `Page ${index + 1}`;
    if (index === 0 && !statusFilter.value && !typeFilter.value && page.jobs.length) onFirst(page.jobs[0]);
  }

  function renderRows(jobs) {
    for (const off of unfollows) off();
    unfollows = [];
    if (!jobs.length) {
      body.replaceChildren(
        h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No jobs match these filters yet.")),
      );
      return;
    }
    body.replaceChildren(...jobs.map(row));
  }

  function row(job) {
    const tr = h("tr", { dataset: { jobId: job.id, status: job.status } });
    const statusCell = h("td", { class: "status-cell" });
    const outcome = h("td", { class: "outcome" });
    const took = h("td", { class: "nowrap muted" });
    const actions = h("td", { class: "actions" });
    const fill = (j) => {
      tr.dataset.status = j.status;
      if (isFinal(j.status)) {
        statusCell.replaceChildren(
          h("span", { class: `status-pill status-${j.status}` }, icon(j.status, { size: 14 }), STATUS_LABELS[j.status]),
        );
      } else {
        const inline = statusCell.inline || new InlineProgress(j);
        inline.update(j);
        statusCell.inline = inline;
        statusCell.replaceChildren(inline.el);
      }
      outcome.textContent =
        j.status === "complete" ? resultSummary(j) : j.status === "failed" ? firstLine(j.error) : j.message || "";
      outcome.title = outcome.textContent;
      outcome.classList.toggle("text-error", j.status === "failed");
      took.textContent = duration(j);
      actions.replaceChildren();
      if (!canWrite) return;
      if (!isFinal(j.status)) {
        actions.append(
          h(
            "button",
            {
              type: "button",
              class: "btn btn-small btn-secondary",
              "aria-label": `Cancel ${jobTitle(j)} job ${j.id}`,
              onclick: async (e) => {
                e.target.disabled = true;
                try {
                  await cancelJob(ctx.tracker, j);
                } catch (err) {
                  ctx.toast(`Couldn't cancel: ${err.message}`, { kind: "error" });
                  e.target.disabled = false;
                }
              },
            },
            "Cancel",
          ),
        );
      } else if (j.status === "failed" || j.status === "cancelled") {
        actions.append(
          h(
            "button",
            {
              type: "button",
              class: "btn btn-small btn-secondary",
              "aria-label": `Retry ${jobTitle(j)} job ${j.id}`,
              onclick: async (e) => {
                e.target.disabled = true;
                try {
                  onRetried(await retryJob(j));
                } catch (err) {
                  ctx.toast(`Couldn't retry: ${err.message}`, { kind: "error" });
                  e.target.disabled = false;
                }
              },
            },
            "Retry",
          ),
        );
      }
    };
    fill(job);
    tr.append(
      h(
        "td",
        {},
        h("div", { class: "job-type" }, jobTitle(job)),
        h("code", { class: "job-id muted", title: job.id }, job.id),
      ),
      statusCell,
      h("td", { class: "nowrap muted", title: job.created_at }, dateTime(job.created_at)),
      took,
      outcome,
      actions,
    );
    if (!isFinal(job.status)) {
      onActive(job);
      unfollows.push(ctx.tracker.follow(job, fill, { element: tr }));
    }
    return tr;
  }

  return {
    el,
    reload,
    dispose() {
      for (const off of unfollows) off();
    },
  };
}

function firstLine(text) {
  const line = (text || "").split("\n")[0];
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
