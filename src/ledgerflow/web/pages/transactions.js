// Transactions: review categories, fix them inline (and turn a fix into a rule), approve many
// at once as a background job with its progress in a modal.

import { api, hasEndpoint } from "../api.js";
import { h, icon } from "../dom.js";
import { count, money, percent, shortDate } from "../format.js";
import { isFinal } from "../jobStatus.js";
import { InlineProgress, openProgressModal } from "../progress.js";
import { ENDPOINTS, cancelJob, isMissing, notAvailable, pageHeader, resultLink, startJob } from "./common.js";

const PAGE = 50;
const REVIEW_BELOW = 0.9;

export function render(main, ctx) {
  const companyId = ctx.company.id;
  const canWrite = ctx.company.role !== "viewer";
  let reviewOnly = ctx.query.get("review") === "1";
  let accounts = [];
  let accountNames = new Map();
  let cursor = null;
  let loadTicket = 0;
  const selected = new Set();
  let modal = null;
  let disposed = false;

  // --- toolbar ---------------------------------------------------------------------------
  const allBtn = h("button", { type: "button", class: "seg", onclick: () => setFilter(false) }, "All");
  const reviewBtn = h(
    "button",
    { type: "button", class: "seg", id: "filter-review", onclick: () => setFilter(true) },
    "Needs review",
  );
  const segmented = h("div", { class: "segmented", role: "group", "aria-label": "Show" }, allBtn, reviewBtn);
  const selectedLabel = h("span", { class: "muted small", "aria-live": "polite" });
  const approveBtn = h(
    "button",
    { type: "button", class: "btn", id: "approve-selected", disabled: true, onclick: () => approveSelected() },
    icon("check", { size: 16 }),
    "Approve selected",
  );
  const jobSlot = h("div", { class: "toolbar-job" });
  const notice = h("div", { class: "notice-slot" });
  const toolbar = h(
    "div",
    { class: "toolbar" },
    segmented,
    h("div", { class: "toolbar-right" }, jobSlot, selectedLabel, approveBtn),
  );

  // --- table -----------------------------------------------------------------------------
  const selectAll = h("input", {
    type: "checkbox",
    id: "select-all",
    "aria-label": "Select all shown transactions",
    onchange: () => {
      for (const box of body.querySelectorAll("input.row-select")) {
        box.checked = selectAll.checked;
        toggle(box.dataset.id, box.checked);
      }
    },
  });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "btn btn-secondary", onclick: () => load(false) }, "Load more");
  const status = h("p", { class: "muted small", "aria-live": "polite" });
  const table = h(
    "table",
    { class: "table txn-table", id: "transactions-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { class: "check" }, canWrite ? selectAll : null),
        h("th", { scope: "col" }, "Date"),
        h("th", { scope: "col" }, "Description"),
        h("th", { scope: "col", class: "num" }, "Amount"),
        h("th", { scope: "col" }, "Category"),
        h("th", { scope: "col" }, "Confidence"),
        h("th", { scope: "col" }, "Method"),
      ),
    ),
    body,
  );

  main.append(
    pageHeader("Transactions", "Check what the model decided, fix what it got wrong, approve the rest."),
    toolbar,
    notice,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, more),
    status,
  );

  hasEndpoint(ENDPOINTS.bulkApprove.path).then((yes) => {
    if (!yes && !disposed) showUnavailable();
  });

  function showUnavailable() {
    approveBtn.disabled = true;
    approveBtn.dataset.unavailable = "true";
    notice.replaceChildren(notAvailable("Bulk approve"));
  }

  function setFilter(review) {
    reviewOnly = review;
    ctx.navigate("transactions", review ? "review=1" : "");
  }
  allBtn.setAttribute("aria-pressed", String(!reviewOnly));
  reviewBtn.setAttribute("aria-pressed", String(reviewOnly));

  function toggle(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
    const n = selected.size;
    selectedLabel.textContent = n ? `${count(n)} selected` : "";
    if (approveBtn.dataset.unavailable !== "true") approveBtn.disabled = !canWrite || n === 0;
    approveBtn.lastChild.textContent = n ? `Approve ${count(n)} selected` : "Approve selected";
  }

  async function load(fresh) {
    const ticket = ++loadTicket;
    if (fresh) {
      cursor = null;
      selected.clear();
      toggle(null, false);
      selectAll.checked = false;
    }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (reviewOnly) q.set("needs_review", "true");
    if (cursor) q.set("cursor", cursor);
    status.textContent = "Loading…";
    more.disabled = true;
    try {
      if (!accounts.length) {
        accounts = await api(`/api/companies/${encodeURIComponent(companyId)}/accounts`);
        accountNames = new Map(accounts.map((a) => [a.id, a.name]));
      }
      const page = await api(`/api/companies/${encodeURIComponent(companyId)}/transactions?${q}`);
      if (ticket !== loadTicket) return;
      if (fresh) body.replaceChildren();
      for (const txn of page.transactions) body.append(row(txn));
      if (!body.children.length) {
        body.append(
          h(
            "tr",
            {},
            h(
              "td",
              { colspan: 7, class: "empty" },
              reviewOnly ? "Nothing needs review. Nice." : "No transactions yet: upload a bank statement on the Background jobs page.",
            ),
          ),
        );
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      status.textContent = "";
    } catch (err) {
      status.textContent = err.message;
      more.disabled = false;
    }
  }

  function categorySelect(txn, onChange) {
    const groups = new Map();
    for (const a of accounts) {
      if (a.is_bank || (!a.active && a.id !== txn.account_id)) continue;
      if (!groups.has(a.kind)) groups.set(a.kind, []);
      groups.get(a.kind).push(a);
    }
    const select = h(
      "select",
      {
        class: "category-select",
        "aria-label": `Category for ${txn.description}`,
        disabled: !canWrite,
        onchange: () => onChange(select.value),
      },
      txn.account_id ? null : h("option", { value: "", selected: true, disabled: true }, "Uncategorized"),
      [...groups].map(([kind, list]) =>
        h(
          "optgroup",
          { label: kind[0].toUpperCase() + kind.slice(1) },
          list.map((a) => h("option", { value: a.id, selected: a.id === txn.account_id }, a.name)),
        ),
      ),
    );
    return select;
  }

  function row(txn) {
    const tr = h("tr", { dataset: { txnId: txn.id } });
    const fill = (t) => {
      tr.dataset.status = t.status;
      tr.classList.toggle("needs-review", t.needs_review);
      const box = h("input", {
        type: "checkbox",
        class: "row-select",
        dataset: { id: t.id },
        "aria-label": `Select ${t.description}`,
        checked: selected.has(t.id),
        onchange: (e) => toggle(t.id, e.target.checked),
      });
      tr.replaceChildren(
        h("td", { class: "check" }, canWrite ? box : null),
        h("td", { class: "nowrap" }, shortDate(t.date)),
        h(
          "td",
          { class: "desc" },
          h("div", { class: "desc-main", title: t.description }, t.description),
          t.merchant ? h("div", { class: "muted small" }, t.merchant) : null,
        ),
        h("td", { class: `num nowrap ${t.amount_cents > 0 ? "amount-in" : ""}` }, money(t.amount_cents, t.currency)),
        h("td", {}, categorySelect(t, (accountId) => recategorize(tr, t, accountId))),
        h("td", {}, confidenceCell(t)),
        h(
          "td",
          {},
          h("span", { class: `badge method-${t.method || "none"}` }, t.method || "—"),
          t.status === "approved" || t.status === "exported"
            ? h("span", { class: "badge badge-ok", title: t.status }, t.status)
            : t.needs_review
              ? h("span", { class: "badge badge-warn" }, "review")
              : null,
        ),
      );
    };
    fill(txn);
    tr.fill = fill;
    return tr;
  }

  async function recategorize(tr, txn, accountId) {
    tr.classList.add("saving");
    removeSuggestion(tr);
    try {
      const answer = await api(`/api/transactions/${encodeURIComponent(txn.id)}`, {
        method: "PATCH",
        body: { account_id: accountId },
      });
      tr.fill(answer.transaction);
      tr.classList.add("saved");
      setTimeout(() => tr.classList.remove("saved"), 1200);
      if (answer.suggested_rule) suggestRule(tr, answer.suggested_rule);
    } catch (err) {
      ctx.toast(`Couldn't change the category: ${err.message}`, { kind: "error" });
      tr.fill(txn);
    } finally {
      tr.classList.remove("saving");
    }
  }

  function removeSuggestion(tr) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("suggestion-row")) next.remove();
  }

  function describeConditions(conditions) {
    return conditions
      .map((c) => `${c.field} ${c.op.replace("_", " ")} “${Array.isArray(c.value) ? c.value.join("–") : c.value}”`)
      .join(" and ");
  }

  function suggestRule(tr, rule) {
    const category = accountNames.get(rule.account_id) || "this category";
    const message = h(
      "span",
      {},
      "Always file transactions where ",
      h("strong", {}, describeConditions(rule.conditions)),
      " under ",
      h("strong", {}, category),
      "?",
    );
    const create = h(
      "button",
      {
        type: "button",
        class: "btn btn-small create-rule",
        onclick: async () => {
          create.disabled = true;
          try {
            await api(`/api/companies/${encodeURIComponent(companyId)}/rules`, {
              method: "POST",
              body: { name: rule.name, conditions: rule.conditions, account_id: rule.account_id },
            });
            box.replaceChildren(icon("check", { size: 16 }), ` Rule “${rule.name}” created. New imports will use it.`);
            setTimeout(() => suggestion.remove(), 4000);
          } catch (err) {
            create.disabled = false;
            ctx.toast(`Couldn't create the rule: ${err.message}`, { kind: "error" });
          }
        },
      },
      "Create rule",
    );
    const dismiss = h(
      "button",
      { type: "button", class: "btn btn-small btn-ghost", onclick: () => suggestion.remove() },
      "Not now",
    );
    const box = h("div", { class: "suggestion", role: "status" }, message, h("span", { class: "suggestion-actions" }, create, dismiss));
    const suggestion = h("tr", { class: "suggestion-row" }, h("td", { colspan: 7 }, box));
    tr.after(suggestion);
    create.focus();
  }

  async function approveSelected() {
    const ids = [...selected];
    if (!ids.length) return;
    approveBtn.disabled = true;
    let job;
    try {
      job = await startJob("bulkApprove", companyId, { company_id: companyId, transaction_ids: ids });
    } catch (err) {
      if (isMissing(err)) showUnavailable();
      else ctx.toast(err.message, { kind: "error" });
      toggle(null, false);
      return;
    }
    follow(job, ids.length);
  }

  function follow(job, n) {
    const inline = new InlineProgress(job);
    jobSlot.replaceChildren(inline.el);
    modal = openProgressModal(job, {
      title: `Approving ${count(n)} transactions`,
      resultLink,
      onCancel: async (j) => {
        try {
          await cancelJob(ctx.tracker, j);
        } catch (err) {
          ctx.toast(`Couldn't cancel: ${err.message}`, { kind: "error" });
        }
      },
    });
    const current = modal;
    const unfollow = ctx.tracker.follow(job, (j) => {
      inline.update(j);
      if (current.open) current.card.update(j);
      if (isFinal(j.status)) {
        unfollow();
        if (j.status === "complete") {
          load(true);
          setTimeout(() => inline.el.remove(), 5000);
        }
      }
    });
    inline.el.tabIndex = 0;
    inline.el.setAttribute("role", "button");
    inline.el.setAttribute("aria-label", "Show the approval's progress");
    const reopen = () => {
      if (current.open) return;
      const j = ctx.tracker.get(job.id) || job;
      modal = openProgressModal(j, { title: `Approving ${count(n)} transactions`, resultLink });
      const again = modal;
      const off = ctx.tracker.follow(j, (x) => again.open && again.card.update(x));
      if (isFinal(j.status)) off();
    };
    inline.el.addEventListener("click", reopen);
    inline.el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        reopen();
      }
    });
  }

  load(true);
  return () => {
    disposed = true;
    if (modal && modal.open) modal.close();
  };
}

function confidenceCell(t) {
  if (t.confidence === null || t.confidence === undefined) return h("span", { class: "muted" }, "—");
  const level = t.confidence >= REVIEW_BELOW ? "high" : t.confidence >= 0.6 ? "mid" : "low";
  return h(
    "span",
    { class: `confidence confidence-${level}`, title: `${(t.confidence * 100).toFixed(1)}% confident` },
    h("span", { class: "confidence-track", "aria-hidden": "true" }, h("span", { style: { width: percent(t.confidence) } })),
    percent(t.confidence),
  );
}
