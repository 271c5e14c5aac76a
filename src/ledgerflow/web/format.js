// Formatting shared by the pages: money, dates, job types, result summaries.

export const JOB_TYPES = Object.freeze({
  upload_and_categorize: "Upload & categorize",
  categorize_transactions: "Categorize transactions",
  process_receipt_ocr: "Receipt OCR",
  bulk_approve_transactions: "Bulk approve",
  export_to_quickbooks: "QuickBooks export",
});

export const STATUS_LABELS = Object.freeze({
  pending: "Pending",
  running: "Running",
  complete: "Complete",
  failed: "Failed",
  cancelled: "Cancelled",
});

export function jobTitle(job) {
  return JOB_TYPES[job.type] || job.type;
}

const number = new Intl.NumberFormat();

export function count(n) {
  return number.format(Number(n) || 0);
}

export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${Number(n) === 1 ? one : many}`;
}

export function money(cents, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function shortDate(iso) {
  if (!iso) return "";
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return sameDay
    ? time
    : `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })}, ${time}`;
}

export function duration(job) {
  if (!job.started_at) return "";
  const end = job.finished_at ? new Date(job.finished_at) : new Date();
  const seconds = Math.max(0, (end - new Date(job.started_at)) / 1000);
  if (seconds < 1) return "<1 s";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

/** "95 journal entries created · 80 high confidence · 15 need review", and friends. */
export function resultSummary(job) {
  const r = job.result;
  if (!r || typeof r !== "object") return job.message || "";
  switch (job.type) {
    case "upload_and_categorize":
    case "categorize_transactions":
      if (!r.categorized && !r.inserted && job.type === "categorize_transactions") {
        return "Nothing to categorize";
      }
      return [
        `${plural(r.je_created ?? 0, "journal entry", "journal entries")} created`,
        `${count(r.high_confidence ?? 0)} high confidence`,
        `${count(r.needs_review ?? 0)} need review`,
      ].join(" · ");
    case "bulk_approve_transactions":
      if ("approved" in r && "entries_posted" in r) {
        return [
          `${count(r.approved)} approved`,
          `${plural(r.entries_posted, "journal entry", "journal entries")} posted`,
          `${count(r.skipped ?? 0)} skipped`,
        ].join(" · ");
      }
      return genericSummary(r, ["approved", "skipped", "already_approved", "failed"]);
    case "export_to_quickbooks": {
      const failed = Array.isArray(r.failed) ? r.failed.length : r.failed ?? 0;
      return [
        `${count(r.exported ?? 0)} exported`,
        `${count(r.skipped ?? 0)} skipped`,
        `${count(failed)} failed`,
      ].join(" · ");
    }
    case "process_receipt_ocr": {
      const parts = [];
      const vendor = fieldValue(r.vendor);
      const cents = fieldValue(r.total_cents);
      const total = cents ?? fieldValue(r.total);
      if (vendor) parts.push(vendor);
      if (total !== null && total !== undefined) {
        parts.push(receiptAmount(total, fieldValue(r.currency) || "USD", { cents: cents != null }));
      }
      if (r.matched_transaction_id || r.transaction_id) parts.push("matched to a transaction");
      else if (r.candidates) parts.push(`no clear match · ${plural(r.candidates, "candidate")}`);
      else parts.push("no matching transaction yet");
      return parts.join(" · ");
    }
    default:
      return genericSummary(r);
  }
}

/** Secondary details for the card: file counts for an import. */
export function resultDetails(job) {
  const r = job.result;
  if (!r || typeof r !== "object") return "";
  if (job.type === "upload_and_categorize") {
    return [
      `${plural(r.parsed ?? 0, "row")} read`,
      `${count(r.inserted ?? 0)} new`,
      `${plural(r.duplicates ?? 0, "duplicate")} skipped`,
    ].join(" · ");
  }
  if (r.by_method && typeof r.by_method === "object") {
    const m = r.by_method;
    return `by rule ${count(m.rule ?? 0)} · by model ${count(m.model ?? 0)} · by LLM ${count(m.llm ?? 0)}`;
  }
  return "";
}

function genericSummary(r, preferred = []) {
  const keys = [
    ...preferred.filter((k) => k in r),
    ...Object.keys(r).filter((k) => !preferred.includes(k)),
  ];
  const parts = [];
  for (const key of keys) {
    const value = r[key];
    if (typeof value === "number") parts.push(`${count(value)} ${key.replaceAll("_", " ")}`);
    else if (Array.isArray(value)) parts.push(`${count(value.length)} ${key.replaceAll("_", " ")}`);
  }
  return parts.slice(0, 4).join(" · ") || "Done";
}

/** OCR fields may come as plain values or as {value, confidence}. */
export function fieldValue(field) {
  if (field && typeof field === "object" && "value" in field) return field.value;
  return field ?? null;
}

export function fieldConfidence(field) {
  if (field && typeof field === "object" && "confidence" in field) return field.confidence;
  return null;
}

/** An amount in currency units (12.5) or, with ``{cents: true}``, in cents (1250). */
export function receiptAmount(value, currency = "USD", { cents = false } = {}) {
  if (value === null || value === undefined || value === "") return "";
  const n = Number(value) / (cents ? 100 : 1);
  return Number.isFinite(n) ? money(Math.round(n * 100), currency || "USD") : String(value);
}

export function percent(x) {
  return x === null || x === undefined ? "" : `${Math.round(x * 100)}%`;
}
