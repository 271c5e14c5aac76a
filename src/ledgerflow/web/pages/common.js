// Pieces the pages share: starting jobs, wiring progress cards to the tracker, drop zones and
// the "not available yet" state for endpoints this server doesn't have.

import { ApiError, api } from "../api.js";
import { h, icon } from "../dom.js";
import { ProgressCard } from "../progress.js";

export const ENDPOINTS = Object.freeze({
  categorize: { path: "/api/jobs/categorize", type: "categorize_transactions" },
  upload: { path: "/api/jobs/upload-and-categorize", type: "upload_and_categorize" },
  ocr: { path: "/api/jobs/ocr", type: "process_receipt_ocr" },
  bulkApprove: { path: "/api/jobs/bulk-approve", type: "bulk_approve_transactions" },
  exportQbo: { path: "/api/jobs/export-qbo", type: "export_to_quickbooks" },
});

export const STATEMENT_EXTENSIONS = [".csv", ".ofx", ".qfx", ".tsv", ".txt"];
export const RECEIPT_EXTENSIONS = [".jpg", ".jpeg", ".png", ".pdf"];

/** "statement" for bank files, "receipt" for images and PDFs, null for anything else. */
export function uploadKind(file) {
  const name = (file.name || "").toLowerCase();
  const type = file.type || "";
  if (RECEIPT_EXTENSIONS.some((ext) => name.endsWith(ext)) || type.startsWith("image/") || type === "application/pdf") {
    return "receipt";
  }
  if (STATEMENT_EXTENSIONS.some((ext) => name.endsWith(ext)) || type === "text/csv") {
    return "statement";
  }
  return null;
}

/** The job JSON we know right after a 202, until the first real state arrives. */
export function acceptedJob(accepted, type, companyId, extra = {}) {
  return {
    id: accepted.job_id,
    type,
    status: accepted.status || "pending",
    progress: 0,
    message: null,
    result: null,
    error: null,
    company_id: companyId,
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    attempts: 0,
    ...extra,
  };
}

/** POST a job-starting endpoint; returns the pending job JSON. ApiError on failure. */
export async function startJob(kind, companyId, body) {
  const endpoint = ENDPOINTS[kind];
  const accepted = await api(endpoint.path, { method: "POST", body });
  return acceptedJob(accepted, endpoint.type, companyId);
}

export function uploadStatement(companyId, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("company_id", companyId);
  return startJob("upload", companyId, form);
}

export function uploadReceipt(companyId, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("company_id", companyId);
  return startJob("ocr", companyId, form);
}

export async function cancelJob(tracker, job) {
  const updated = await api(`/api/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
  if (updated && tracker) tracker.publish(updated);
  return updated;
}

export async function retryJob(job) {
  const accepted = await api(`/api/jobs/${encodeURIComponent(job.id)}/retry`, { method: "POST" });
  return acceptedJob(accepted, job.type, job.company_id);
}

/** Where "View results" goes for a finished job. */
export function resultLink(job) {
  const r = job.result || {};
  switch (job.type) {
    case "upload_and_categorize":
    case "categorize_transactions":
      return { href: r.needs_review ? "#/transactions?review=1" : "#/transactions", label: "View results" };
    case "bulk_approve_transactions":
      return { href: "#/transactions", label: "View transactions" };
    case "export_to_quickbooks":
      if (r.file_url || (r.format && r.format !== "api")) {
        const label = r.file_name ? `Download ${r.file_name}` : "Download file";
        return { href: exportFileUrl(job), label, download: true };
      }
      return { href: "#/export", label: "View export" };
    case "process_receipt_ocr":
      return { href: r.receipt_id ? `#/receipts?id=${encodeURIComponent(r.receipt_id)}` : "#/receipts", label: "View receipt" };
    default:
      return null;
  }
}

export function exportFileUrl(job) {
  const url = job.result && job.result.file_url;
  return url || `/api/jobs/${encodeURIComponent(job.id)}/file`;
}

/**
 * A ProgressCard that follows ``job`` through the page's tracker, with Cancel, Retry and
 * Dismiss. ``onRetried(newJob)`` gets the job a retry started.
 */
export function jobCard(ctx, job, { onRetried, onDismiss, title, subtitle, dismissible = true } = {}) {
  const card = new ProgressCard(job, {
    title,
    subtitle: subtitle || ((j) => j.file_name || null),
    resultLink,
    onCancel: async (j) => {
      try {
        await cancelJob(ctx.tracker, j);
      } catch (err) {
        ctx.toast(`Couldn't cancel: ${err.message}`, { kind: "error" });
      }
    },
    onRetry: async (j) => {
      try {
        const fresh = await retryJob(j);
        if (onRetried) onRetried(fresh);
      } catch (err) {
        ctx.toast(`Couldn't retry: ${err.message}`, { kind: "error" });
      }
    },
    onDismiss: dismissible
      ? (j) => {
          unfollow();
          if (onDismiss) onDismiss(j);
        }
      : null,
  });
  const unfollow = ctx.tracker.follow(job, (j) => card.update({ ...j, file_name: job.file_name }), {
    element: card.el,
  });
  card.unfollow = unfollow;
  return card;
}

/** The "not available yet" state for a feature whose endpoint answers 404 here. */
export function notAvailable(what, detail = null, { compact = false } = {}) {
  if (compact) {
    return h(
      "div",
      { class: "not-available compact", role: "note" },
      icon("info", { size: 16 }),
      h("span", {}, h("strong", {}, "Not available on this server yet"), " (issue 5)."),
    );
  }
  return h(
    "div",
    { class: "not-available", role: "note" },
    icon("info", { size: 18 }),
    h(
      "div",
      {},
      h("strong", {}, `${what}: not available on this server yet.`),
      h("p", {}, detail || "It arrives with receipts, bulk approval and QuickBooks export (issue 5)."),
    ),
  );
}

export function isMissing(err) {
  return err instanceof ApiError && err.status === 404;
}

/**
 * A drop zone with a real file input inside (so it works with the keyboard and screen readers
 * as "Choose files"), calling ``onFiles(File[])`` for drops and choices alike.
 */
export function dropZone({ id, accept, multiple = true, title, hint, onFiles }) {
  const input = h("input", {
    id,
    type: "file",
    class: "visually-hidden",
    accept,
    multiple,
    onchange: () => {
      const files = [...input.files];
      input.value = "";
      if (files.length) onFiles(files);
    },
  });
  const zone = h(
    "div",
    { class: "dropzone" },
    input,
    h("div", { class: "dropzone-icon" }, icon("upload", { size: 28 })),
    h(
      "p",
      { class: "dropzone-title" },
      title,
      " or ",
      h("label", { for: id, class: "link" }, "choose files"),
    ),
    h("p", { class: "dropzone-hint muted" }, hint),
  );
  const enter = (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  };
  zone.addEventListener("dragenter", enter);
  zone.addEventListener("dragover", enter);
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const files = [...(event.dataTransfer ? event.dataTransfer.files : [])];
    if (files.length) onFiles(files);
  });
  zone.input = input;
  return zone;
}

export function pageHeader(title, subtitle, ...extra) {
  return h(
    "div",
    { class: "page-head" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    ...extra,
  );
}
