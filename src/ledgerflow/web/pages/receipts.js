// Receipts: upload images for OCR, see the fields read from each and the transaction it matched.

import { api, hasEndpoint } from "../api.js";
import { h } from "../dom.js";
import { fieldConfidence, fieldValue, money, percent, receiptAmount, shortDate } from "../format.js";
import { ENDPOINTS, dropZone, isMissing, jobCard, notAvailable, pageHeader, uploadReceipt } from "./common.js";

export function render(main, ctx) {
  const companyId = ctx.company.id;
  const canWrite = ctx.company.role !== "viewer";
  let disposed = false;
  const cards = h("div", { class: "card-grid", id: "receipt-jobs" });
  const grid = h("div", { class: "receipt-grid", id: "receipt-list" });
  const detail = h("div", { class: "receipt-detail", id: "receipt-detail", hidden: true });
  const status = h("p", { class: "muted small", "aria-live": "polite" });
  const uploadNote = h("div", { class: "notice-slot" });

  const zone = dropZone({
    id: "receipt-input",
    accept: ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf",
    title: "Drop receipt images or PDFs here",
    hint: "JPEG, PNG or PDF. Each receipt is read in the background and matched to a transaction.",
    onFiles: async (files) => {
      for (const file of files) {
        try {
          const job = { ...(await uploadReceipt(companyId, file)), file_name: file.name };
          const card = jobCard(ctx, job, {});
          cards.prepend(card.el);
        } catch (err) {
          if (isMissing(err)) {
            uploadNote.replaceChildren(notAvailable("Receipt OCR"));
            return;
          }
          ctx.toast(`${file.name}: ${err.message}`, { kind: "error" });
        }
      }
    },
  });
  if (!canWrite) zone.input.disabled = true;

  main.append(
    pageHeader("Receipts", "Vendor, date and total read from each receipt, and the transaction it belongs to."),
    h("section", { class: "section" }, zone, uploadNote, cards),
    h(
      "section",
      { class: "section", "aria-labelledby": "receipts-title" },
      h("div", { class: "section-head" }, h("h2", { id: "receipts-title" }, "Uploaded receipts")),
      status,
      h("div", { class: "receipts-layout" }, grid, detail),
    ),
  );

  hasEndpoint(ENDPOINTS.ocr.path).then((yes) => {
    if (!yes && !disposed) {
      uploadNote.replaceChildren(notAvailable("Receipt OCR"));
      zone.dataset.unavailable = "true";
      zone.input.disabled = true;
    }
  });
  const offFinished = ctx.tracker.onFinished((job) => {
    if (job && job.type === "process_receipt_ocr") load();
  });

  async function load() {
    status.textContent = "Loading…";
    let answer;
    try {
      answer = await api(`/api/companies/${encodeURIComponent(companyId)}/receipts`);
    } catch (err) {
      status.textContent = "";
      if (isMissing(err)) {
        grid.replaceChildren(notAvailable("Receipts"));
        grid.dataset.unavailable = "true";
      } else {
        status.textContent = err.message;
      }
      return;
    }
    status.textContent = "";
    const receipts = Array.isArray(answer) ? answer : answer.receipts || answer.items || [];
    if (!receipts.length) {
      grid.replaceChildren(h("p", { class: "empty" }, "No receipts yet. Drop one above."));
      return;
    }
    grid.replaceChildren(...receipts.map(tile));
    const wanted = ctx.query.get("id");
    if (wanted) open(wanted);
  }

  function tile(r) {
    const vendor = fieldValue(r.vendor) || r.file_name || "Receipt";
    const matched = r.matched_transaction_id || (r.matched_transaction && r.matched_transaction.id);
    return h(
      "button",
      { type: "button", class: "receipt-tile", dataset: { receiptId: r.id }, onclick: () => open(r.id) },
      imageOf(r) ? h("img", { src: imageOf(r), alt: "", loading: "lazy" }) : h("div", { class: "receipt-thumb" }),
      h("strong", {}, vendor),
      h("span", { class: "muted small" }, [shortDate(fieldValue(r.date)), totalOf(r)].filter(Boolean).join(" · ")),
      h("span", { class: `badge ${matched ? "badge-ok" : "badge-warn"}` }, matched ? "matched" : r.status || "unmatched"),
    );
  }

  async function open(id) {
    detail.hidden = false;
    detail.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let r;
    try {
      r = await api(`/api/receipts/${encodeURIComponent(id)}`);
    } catch (err) {
      detail.replaceChildren(isMissing(err) ? notAvailable("Receipt details") : h("p", { class: "error-box" }, err.message));
      return;
    }
    const fields = ["vendor", "date", "subtotal", "tax", "total", "currency"];
    const matched = r.matched_transaction || null;
    const candidates = r.candidates || [];
    detail.replaceChildren(
      h("h3", {}, fieldValue(r.vendor) || r.file_name || "Receipt"),
      imageOf(r) ? h("img", { class: "receipt-image", src: imageOf(r), alt: `Receipt ${r.file_name || id}` }) : null,
      h(
        "table",
        { class: "table fields" },
        h("tbody", {}, fields.filter((f) => f in r || `${f}_cents` in r).map((f) => {
          const cents = `${f}_cents` in r;
          const raw = cents ? r[`${f}_cents`] : r[f];
          const value = ["subtotal", "tax", "total"].includes(f)
            ? receiptAmount(fieldValue(raw), fieldValue(r.currency) || "USD", { cents })
            : String(fieldValue(raw) ?? "—");
          const conf = fieldConfidence(raw);
          return h("tr", {}, h("th", { scope: "row" }, f), h("td", {}, value), h("td", { class: "muted small" }, conf === null ? "" : percent(conf)));
        })),
      ),
      h("h4", {}, "Matched transaction"),
      matched
        ? h("p", {}, `${shortDate(matched.date)} · ${matched.description} · ${money(matched.amount_cents, matched.currency)}`)
        : candidates.length
          ? h("ul", {}, candidates.map((c) => h("li", {}, `${shortDate(c.date)} · ${c.description} · ${money(c.amount_cents, c.currency || "USD")}`)))
          : h("p", { class: "muted" }, r.matched_transaction_id ? r.matched_transaction_id : "No match yet."),
      r.raw_text ? h("details", {}, h("summary", {}, "Raw text"), h("pre", { class: "code" }, r.raw_text)) : null,
    );
  }

  load();
  return () => {
    disposed = true;
    offFinished();
  };
}

function imageOf(r) {
  const url = r.image_url || (typeof r.image === "string" ? r.image : null);
  if (!url) return null;
  return url.startsWith("/") || url.startsWith("data:image/") || url.startsWith("http") ? url : null;
}

function totalOf(r) {
  if ("total_cents" in r) return receiptAmount(fieldValue(r.total_cents), fieldValue(r.currency) || "USD", { cents: true });
  if ("total" in r) return receiptAmount(fieldValue(r.total), fieldValue(r.currency) || "USD");
  return "";
}
