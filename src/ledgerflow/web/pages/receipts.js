// Receipts: upload images for OCR, see the fields read from each and the transaction it matched.

import { api, hasEndpoint } from "../api.js";
import { h, icon } from "../dom.js";
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
    const status = matched
      ? "matched"
      : ["failed", "pending", "processing"].includes(r.status)
        ? r.status
        : "no match";
    return h(
      "button",
      { type: "button", class: "receipt-tile", dataset: { receiptId: r.id }, onclick: () => open(r.id) },
      thumbnail(r),
      h("strong", { class: "receipt-vendor" }, vendor),
      h("span", { class: "muted small" }, [shortDate(fieldValue(r.date)), totalOf(r)].filter(Boolean).join(" · ") || "—"),
      h(
        "span",
        {
          class: `badge ${
            matched ? "badge-ok" : status === "failed" ? "badge-error" : status === "no match" ? "badge-warn" : ""
          }`,
        },
        status,
      ),
    );
  }

  async function open(id) {
    detail.hidden = false;
    for (const t of grid.querySelectorAll(".receipt-tile")) {
      t.setAttribute("aria-pressed", String(t.dataset.receiptId === id));
    }
    detail.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let r;
    try {
      r = await api(`/api/receipts/${encodeURIComponent(id)}`);
    } catch (err) {
      detail.replaceChildren(isMissing(err) ? notAvailable("Receipt details") : h("p", { class: "error-box" }, err.message));
      return;
    }
    const confidences = r.field_confidences || {};
    const currency = fieldValue(r.currency) || "USD";
    const rows = [
      ["Vendor", fieldValue(r.vendor), "vendor"],
      ["Date", fieldValue(r.date) ? shortDate(fieldValue(r.date)) : null, "date"],
      ["Subtotal", amountField(r, "subtotal", currency), "subtotal"],
      ["Tax", amountField(r, "tax", currency), "tax"],
      ["Total", amountField(r, "total", currency), "total"],
      ["Currency", fieldValue(r.currency), "currency"],
    ];
    const matched = r.matched_transaction || null;
    const candidates = Array.isArray(r.candidates) ? r.candidates : [];
    const image = imageOf(r);
    detail.replaceChildren(
      h(
        "div",
        { class: "detail-head" },
        h("h3", {}, fieldValue(r.vendor) || "Receipt"),
        h(
          "button",
          { type: "button", class: "icon-btn", "aria-label": "Close details", onclick: () => (detail.hidden = true) },
          icon("close", { size: 16 }),
        ),
      ),
      image
        ? h("a", { href: image, target: "_blank", rel: "noopener", class: "receipt-image-link" }, receiptImage(image, `Receipt from ${fieldValue(r.vendor) || "unknown vendor"}`))
        : null,
      h(
        "table",
        { class: "table fields" },
        h(
          "tbody",
          {},
          rows.map(([label, value, key]) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, label),
              h("td", {}, value ?? h("span", { class: "muted" }, "not found")),
              h("td", { class: "muted small num" }, confidenceOf(r, key, confidences)),
            ),
          ),
        ),
      ),
      r.error ? h("p", { class: "error-box", role: "alert" }, r.error) : null,
      h("h4", {}, "Matched transaction"),
      matched
        ? h(
            "p",
            { class: "matched" },
            icon("check", { size: 16 }),
            ` ${shortDate(matched.date)} · ${matched.description} · ${money(matched.amount_cents, matched.currency)}`,
          )
        : candidates.length
          ? h(
              "div",
              {},
              h("p", { class: "muted small" }, "No single clear match; the closest transactions:"),
              h(
                "ul",
                { class: "candidates" },
                candidates.map((c) =>
                  h(
                    "li",
                    {},
                    h("code", {}, c.transaction_id || c.id || "?"),
                    c.score !== undefined ? ` · score ${percent(c.score)}` : "",
                    Array.isArray(c.reasons) && c.reasons.length ? h("span", { class: "muted small" }, ` (${c.reasons.join(", ")})`) : "",
                  ),
                ),
              ),
            )
          : h("p", { class: "muted" }, r.matched_transaction_id || "No matching transaction yet."),
      r.raw_text ? h("details", {}, h("summary", {}, "Text read from the receipt"), h("pre", { class: "code raw-text" }, r.raw_text)) : null,
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

/** The receipt file as an image; PDFs (which <img> can't show) fall back to an icon. */
function receiptImage(src, alt) {
  const img = h("img", { src, alt, loading: "lazy", class: "receipt-image" });
  img.addEventListener("error", () => img.replaceWith(h("div", { class: "receipt-thumb" }, icon("receipt", { size: 28 }))), {
    once: true,
  });
  return img;
}

function thumbnail(r) {
  const src = imageOf(r) || (r.id ? `/api/receipts/${encodeURIComponent(r.id)}/image` : null);
  if (!src) return h("div", { class: "receipt-thumb" }, icon("receipt", { size: 28 }));
  const img = h("img", { src, alt: "", loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(h("div", { class: "receipt-thumb" }, icon("receipt", { size: 28 }))), {
    once: true,
  });
  return img;
}

function amountField(r, name, currency) {
  if (`${name}_cents` in r && r[`${name}_cents`] !== null) {
    return receiptAmount(fieldValue(r[`${name}_cents`]), currency, { cents: true });
  }
  if (name in r && r[name] !== null) return receiptAmount(fieldValue(r[name]), currency);
  return null;
}

function confidenceOf(r, key, confidences) {
  const direct = fieldConfidence(r[key]);
  const value = direct ?? confidences[key] ?? confidences[`${key}_cents`];
  return value === undefined || value === null ? "" : percent(value);
}

function totalOf(r) {
  return amountField(r, "total", fieldValue(r.currency) || "USD") || "";
}
