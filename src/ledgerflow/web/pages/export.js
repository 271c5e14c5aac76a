// Export: run a QuickBooks export (API or IIF/CSV file) and download files from past exports.

import { api, hasEndpoint } from "../api.js";
import { h, icon } from "../dom.js";
import { STATUS_LABELS, dateTime, resultSummary } from "../format.js";
import { ENDPOINTS, exportFileUrl, isMissing, jobCard, notAvailable, pageHeader, startJob } from "./common.js";

export function render(main, ctx) {
  const companyId = ctx.company.id;
  const canWrite = ctx.company.role !== "viewer";
  let disposed = false;
  const format = h(
    "select",
    { id: "export-page-format", name: "format" },
    h("option", { value: "iif" }, "IIF file (QuickBooks Desktop)"),
    h("option", { value: "csv" }, "CSV journal-entry import (QuickBooks Online)"),
    h("option", { value: "api" }, "Straight to QuickBooks Online (API)"),
  );
  const since = h("input", { id: "export-page-since", name: "since", type: "date" });
  const startBtn = h("button", { type: "submit", class: "btn", disabled: !canWrite }, "Run export");
  const note = h("div", { class: "notice-slot", id: "export-notice" });
  const cards = h("div", { class: "card-grid", id: "export-jobs" });
  const body = h("tbody");

  const form = h(
    "form",
    {
      class: "panel export-form",
      onsubmit: async (event) => {
        event.preventDefault();
        startBtn.disabled = true;
        try {
          const job = await startJob("exportQbo", companyId, {
            company_id: companyId,
            format: format.value,
            ...(since.value ? { since: since.value } : {}),
          });
          const card = jobCard(ctx, job, { subtitle: () => `${format.selectedOptions[0].textContent}` });
          cards.prepend(card.el);
          loadHistory();
        } catch (err) {
          if (isMissing(err)) showUnavailable();
          else ctx.toast(err.message, { kind: "error" });
        } finally {
          if (form.dataset.unavailable !== "true") startBtn.disabled = !canWrite;
        }
      },
    },
    h(
      "div",
      { class: "form-row" },
      h("div", { class: "field" }, h("label", { for: "export-page-format" }, "Format"), format),
      h("div", { class: "field" }, h("label", { for: "export-page-since" }, "Entries since (optional)"), since),
      h("div", { class: "field field-action" }, startBtn),
    ),
    h("p", { class: "muted small" }, "Only approved journal entries are exported, and each only once: a re-run skips what QuickBooks already has."),
  );

  function showUnavailable() {
    form.dataset.unavailable = "true";
    startBtn.disabled = true;
    note.replaceChildren(notAvailable("QuickBooks export"));
  }

  // --- the QuickBooks Online connection (for the "api" format) -----------------------------
  const qbo = h("div", { class: "qbo-status", id: "qbo-status", hidden: true });

  async function loadConnection() {
    let info;
    try {
      info = await api(`/api/companies/${encodeURIComponent(companyId)}/quickbooks`);
    } catch {
      qbo.hidden = true; // no such endpoint here: IIF and CSV still work
      return;
    }
    qbo.hidden = false;
    const connectBtn = h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        disabled: !canWrite,
        onclick: async () => {
          connectBtn.disabled = true;
          try {
            const { authorization_url: url } = await api(
              `/api/companies/${encodeURIComponent(companyId)}/quickbooks/connect`,
              { method: "POST" },
            );
            location.assign(url);
          } catch (err) {
            connectBtn.disabled = false;
            ctx.toast(
              err.status === 409 ? "QuickBooks Online isn't configured on this server." : err.message,
              { kind: "error" },
            );
          }
        },
      },
      info.connected && info.needs_reconnect ? "Reconnect" : "Connect QuickBooks",
    );
    const disconnectBtn = h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-secondary",
        disabled: !canWrite,
        onclick: async () => {
          disconnectBtn.disabled = true;
          try {
            await api(`/api/companies/${encodeURIComponent(companyId)}/quickbooks`, { method: "DELETE" });
          } catch (err) {
            ctx.toast(err.message, { kind: "error" });
          }
          loadConnection();
        },
      },
      "Disconnect",
    );
    qbo.dataset.connected = String(info.connected);
    qbo.replaceChildren(
      h("span", { class: `dot ${info.connected && !info.needs_reconnect ? "dot-ok" : "dot-off"}`, "aria-hidden": "true" }),
      h(
        "span",
        { class: "qbo-text" },
        info.connected
          ? info.needs_reconnect
            ? "QuickBooks Online needs to be reconnected."
            : `Connected to QuickBooks Online (company ${info.realm_id})${info.connected_at ? ` since ${dateTime(info.connected_at)}` : ""}.`
          : "Not connected to QuickBooks Online: IIF and CSV files work without it.",
      ),
      info.connected && !info.needs_reconnect ? disconnectBtn : connectBtn,
    );
  }
  loadConnection();

  main.append(
    pageHeader("Export", "Send your books to QuickBooks, or download them as IIF or CSV."),
    qbo,
    form,
    note,
    cards,
    h(
      "section",
      { class: "section", "aria-labelledby": "exports-title" },
      h("div", { class: "section-head" }, h("h2", { id: "exports-title" }, "Past exports")),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table" },
          h("thead", {}, h("tr", {}, h("th", {}, "Started"), h("th", {}, "Status"), h("th", {}, "Outcome"), h("th", {}, "File"))),
          body,
        ),
      ),
    ),
  );

  hasEndpoint(ENDPOINTS.exportQbo.path).then((yes) => {
    if (!yes && !disposed) showUnavailable();
  });

  async function loadHistory() {
    let page;
    try {
      page = await api(`/api/jobs/company/${encodeURIComponent(companyId)}?type=export_to_quickbooks&limit=20`);
    } catch (err) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "empty" }, err.message)));
      return;
    }
    if (!page.jobs.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No exports yet.")));
      return;
    }
    body.replaceChildren(
      ...page.jobs.map((job) => {
        const r = job.result || {};
        const hasFile = job.status === "complete" && (r.file_url || (r.format && r.format !== "api"));
        return h(
          "tr",
          { dataset: { jobId: job.id } },
          h("td", { class: "nowrap" }, dateTime(job.created_at)),
          h("td", {}, h("span", { class: `status-pill status-${job.status}` }, icon(job.status, { size: 14 }), STATUS_LABELS[job.status])),
          h("td", {}, job.status === "complete" ? resultSummary(job) : job.error ? job.error.split("\n")[0] : job.message || ""),
          h(
            "td",
            {},
            hasFile
              ? h("a", { href: exportFileUrl(job), download: "", class: "btn btn-small btn-secondary" }, icon("download", { size: 14 }), r.file_name ? `Download ${r.file_name}` : "Download file")
              : h("span", { class: "muted" }, "—"),
          ),
        );
      }),
    );
  }

  const offFinished = ctx.tracker.onFinished((job) => {
    if (job && job.type === "export_to_quickbooks") loadHistory();
  });
  loadHistory();
  return () => {
    disposed = true;
    offFinished();
  };
}
