// Progress components in three forms: a full card, a compact inline indicator for table rows,
// and a modal overlay. Each takes job JSON (GET /api/jobs/{id}) and updates in place.

import { h, icon } from "./dom.js";
import { STATUS_LABELS, jobTitle, resultDetails, resultSummary } from "./format.js";
import { isFinal } from "./jobStatus.js";

let nextId = 0;
const uid = (prefix) => `${prefix}-${++nextId}`;

const WAITING = {
  pending: "Waiting for a worker…",
  running: "Starting…",
};

function statusText(job) {
  if (job.status === "cancelled") {
    if (job.message) return `Stopped during: ${job.message}`;
    return job.started_at ? "Cancelled while it ran." : "Cancelled before it started.";
  }
  return job.message || WAITING[job.status] || "";
}

/** The bar itself: role=progressbar with aria-valuenow/min/max kept in step with the job. */
export function progressBar({ labelledBy = null, label = null, compact = false } = {}) {
  const fill = h("div", { class: "bar-fill" });
  const bar = h(
    "div",
    {
      class: compact ? "bar bar-compact" : "bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": 0,
      "aria-labelledby": labelledBy,
      "aria-label": labelledBy ? null : label,
    },
    fill,
  );
  bar.setValue = (value, text) => {
    const v = Math.max(0, Math.min(100, Math.round(value || 0)));
    bar.setAttribute("aria-valuenow", String(v));
    bar.setAttribute("aria-valuetext", text ? `${v}% – ${text}` : `${v}%`);
    fill.style.width = `${v}%`;
  };
  return bar;
}

/**
 * The full card: title, status icon, bar, percentage, message (an aria-live region), and when
 * the job ends a result summary with a "View results" link, or the error in a red box.
 *
 * options: {title, subtitle, onCancel(job), onRetry(job), onDismiss(job), resultLink(job) →
 * {href, label} | null, headingLevel}
 */
export class ProgressCard {
  constructor(job, options = {}) {
    this.options = options;
    this.job = null;
    const titleId = uid("job-title");
    this.statusIcon = h("span", { class: "status-icon" });
    this.pill = h("span", { class: "status-pill" });
    this.title = h(`h${options.headingLevel || 3}`, { class: "card-title", id: titleId });
    this.subtitle = h("p", { class: "card-subtitle" });
    this.bar = progressBar({ labelledBy: titleId });
    this.percent = h("span", { class: "pct", "aria-hidden": "true" });
    this.message = h("p", { class: "message", role: "status", "aria-live": "polite" });
    this.summary = h("p", { class: "result-summary" });
    this.details = h("p", { class: "result-details" });
    this.link = h("a", { class: "btn btn-small btn-secondary view-results" }, "View results");
    this.result = h("div", { class: "result", hidden: true }, this.summary, this.details, this.link);
    this.errorText = h("p", { class: "error-text" });
    this.errorMore = h("details", { class: "error-more", hidden: true });
    this.errorBox = h(
      "div",
      { class: "error-box", role: "alert", hidden: true },
      h("strong", {}, "The job failed"),
      this.errorText,
      this.errorMore,
    );
    this.cancelBtn = h(
      "button",
      { type: "button", class: "btn btn-small btn-secondary cancel", onclick: () => this.cancel() },
      "Cancel",
    );
    this.retryBtn = h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-secondary retry",
        onclick: () => options.onRetry && options.onRetry(this.job),
      },
      "Retry",
    );
    this.dismissBtn = h(
      "button",
      {
        type: "button",
        class: "icon-btn dismiss",
        "aria-label": "Dismiss",
        title: "Dismiss",
        onclick: () => this.dismiss(),
      },
      icon("close", { size: 16 }),
    );
    this.actions = h("div", { class: "card-actions" }, this.cancelBtn, this.retryBtn);
    this.el = h(
      "article",
      { class: "progress-card", "aria-labelledby": titleId },
      h(
        "header",
        { class: "card-head" },
        this.statusIcon,
        h("div", { class: "card-heading" }, this.title, this.subtitle),
        this.pill,
        this.dismissBtn,
      ),
      h("div", { class: "bar-row" }, this.bar, this.percent),
      this.message,
      this.result,
      this.errorBox,
      this.actions,
    );
    this.el.progressCard = this;
    this.update(job);
  }

  update(job) {
    const previous = this.job;
    this.job = job;
    const { status } = job;
    const o = this.options;
    this.el.dataset.jobId = job.id;
    this.el.dataset.status = status;
    this.el.dataset.type = job.type;
    if (!previous || previous.status !== status) {
      this.statusIcon.replaceChildren(icon(status, { size: 22 }));
      this.pill.textContent = STATUS_LABELS[status] || status;
    }
    this.title.textContent = o.title || jobTitle(job);
    this.subtitle.textContent =
      (typeof o.subtitle === "function" ? o.subtitle(job) : o.subtitle) || "";
    this.subtitle.hidden = !this.subtitle.textContent;

    const value = status === "complete" ? 100 : job.progress || 0;
    const text = statusText(job);
    this.bar.setValue(value, text);
    this.percent.textContent = `${Math.round(value)}%`;
    if (this.message.textContent !== text) this.message.textContent = text;
    // Once complete, the result box says it better than the last progress message.
    this.message.classList.toggle("visually-hidden", status === "complete");

    const done = status === "complete";
    this.result.hidden = !done;
    if (done) {
      this.summary.textContent = resultSummary(job);
      const details = resultDetails(job);
      this.details.textContent = details;
      this.details.hidden = !details;
      const link = o.resultLink ? o.resultLink(job) : null;
      this.link.hidden = !link;
      if (link) {
        this.link.href = link.href;
        this.link.textContent = link.label || "View results";
        if (link.download) this.link.setAttribute("download", "");
      }
    }
    const failed = status === "failed";
    this.errorBox.hidden = !failed;
    if (failed) {
      const error = job.error || job.message || "The job failed.";
      const [first, ...rest] = error.split("\n");
      this.errorText.textContent = first.length > 300 ? `${first.slice(0, 300)}…` : first;
      const more = rest.join("\n").trim() || (first.length > 300 ? first : "");
      this.errorMore.hidden = !more;
      this.errorMore.replaceChildren(
        h("summary", {}, "Details"),
        h("pre", {}, more),
      );
    }
    this.cancelBtn.hidden = isFinal(status) || !o.onCancel;
    this.retryBtn.hidden = !(failed || status === "cancelled") || !o.onRetry;
    this.dismissBtn.hidden = !isFinal(status) || !o.onDismiss;
    this.actions.hidden = this.cancelBtn.hidden && this.retryBtn.hidden;
  }

  async cancel() {
    if (!this.options.onCancel) return;
    this.cancelBtn.disabled = true;
    this.cancelBtn.textContent = "Cancelling…";
    try {
      await this.options.onCancel(this.job);
    } finally {
      this.cancelBtn.disabled = false;
      this.cancelBtn.textContent = "Cancel";
    }
  }

  dismiss() {
    if (this.options.onDismiss) this.options.onDismiss(this.job);
    this.el.remove();
  }
}

/** The compact form for table rows: icon, a thin bar, the percentage. */
export class InlineProgress {
  constructor(job) {
    this.statusIcon = h("span", { class: "status-icon" });
    this.bar = progressBar({ compact: true, label: "Progress" });
    this.percent = h("span", { class: "pct" });
    this.el = h("span", { class: "inline-progress" }, this.statusIcon, this.bar, this.percent);
    this.job = null;
    this.update(job);
  }

  update(job) {
    const previous = this.job;
    this.job = job;
    this.el.dataset.status = job.status;
    this.el.dataset.jobId = job.id;
    if (!previous || previous.status !== job.status) {
      this.statusIcon.replaceChildren(icon(job.status, { size: 16 }));
      this.statusIcon.title = STATUS_LABELS[job.status] || job.status;
    }
    const value = job.status === "complete" ? 100 : job.progress || 0;
    this.bar.setAttribute("aria-label", `${jobTitle(job)}: ${STATUS_LABELS[job.status] || ""}`);
    this.bar.setValue(value, job.message || STATUS_LABELS[job.status]);
    this.percent.textContent = `${Math.round(value)}%`;
    this.el.title = job.message || STATUS_LABELS[job.status] || "";
  }
}

/**
 * A modal overlay holding a ProgressCard. Focus moves into it and stays there; Escape or
 * "Continue in background" closes it (the job keeps running). Returns {card, close, el}.
 */
export function openProgressModal(job, options = {}) {
  const opener = document.activeElement;
  const card = new ProgressCard(job, { ...options, headingLevel: 2 });
  const closeBtn = h(
    "button",
    { type: "button", class: "btn btn-secondary modal-close", onclick: () => close() },
    "Continue in background",
  );
  const dialog = h(
    "div",
    {
      class: "modal",
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": card.title.id,
      tabindex: "-1",
    },
    card.el,
    h("div", { class: "modal-foot" }, closeBtn),
  );
  const backdrop = h("div", { class: "modal-backdrop" }, dialog);
  const updateButton = () => {
    closeBtn.textContent = isFinal(card.job.status) ? "Close" : "Continue in background";
  };
  const origUpdate = card.update.bind(card);
  card.update = (j) => {
    origUpdate(j);
    updateButton();
  };
  updateButton();

  function onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Tab") {
      const focusable = [...dialog.querySelectorAll("button, a[href], input, select, summary")].filter(
        (el) => !el.closest("[hidden]") && !el.disabled,
      );
      if (!focusable.length) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  }
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    document.removeEventListener("keydown", onKey, true);
    backdrop.remove();
    if (options.onClose) options.onClose(card.job);
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
  }
  backdrop.addEventListener("mousedown", (event) => {
    if (event.target === backdrop) close();
  });
  document.addEventListener("keydown", onKey, true);
  document.body.append(backdrop);
  closeBtn.focus();
  return { card, close, el: backdrop, get open() { return !closed; } };
}
