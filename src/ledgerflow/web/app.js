// The shell: session, company picker, navigation and a hash router over the pages.

import { ApiError, api } from "./api.js";
import { h, icon } from "./dom.js";
import { stopAll } from "./jobStatus.js";
import { JobTracker } from "./tracker.js";
import * as exportPage from "./pages/export.js";
import * as jobsPage from "./pages/jobs.js";
import * as receiptsPage from "./pages/receipts.js";
import { renderSignIn } from "./pages/signin.js";
import * as transactionsPage from "./pages/transactions.js";

const ROUTES = {
  jobs: { page: jobsPage, label: "Background jobs", icon: "jobs" },
  transactions: { page: transactionsPage, label: "Transactions", icon: "list" },
  receipts: { page: receiptsPage, label: "Receipts", icon: "receipt" },
  export: { page: exportPage, label: "Export", icon: "export" },
};
const DEFAULT_ROUTE = "jobs";
const COMPANY_KEY = "ledgerflow.company";

const root = document.getElementById("app");
const params = new URLSearchParams(location.search);

const state = {
  me: null,
  companies: [],
  company: null,
  // ?transport=poll makes every job watch poll instead of streaming (handy on proxies that
  // buffer Server-Sent Events, and for the browser tests of the polling schedule).
  transport: params.get("transport") === "poll" ? "poll" : "auto",
  cleanup: null,
  tracker: null,
};

export function toast(message, { kind = "info", timeout = 6000 } = {}) {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  if (timeout) setTimeout(() => item.remove(), timeout);
  return item;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const name = ROUTES[path] ? path : DEFAULT_ROUTE;
  return { name, query: new URLSearchParams(query) };
}

export function navigate(name, query = "") {
  const hash = `#/${name}${query ? `?${query}` : ""}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function boot() {
  try {
    state.me = await api("/api/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignIn();
    return showFatal(err);
  }
  try {
    state.companies = await api("/api/companies");
  } catch (err) {
    return showFatal(err);
  }
  const saved = localStorage.getItem(COMPANY_KEY);
  state.company =
    state.companies.find((c) => c.id === saved) ||
    (state.companies.length === 1 ? state.companies[0] : null);
  if (!state.company && state.companies.length > 1) return showCompanyPicker();
  renderShell();
}

function teardown() {
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  state.cleanup = null;
  if (state.tracker) state.tracker.stop();
  state.tracker = null;
  stopAll();
}

function showSignIn() {
  teardown();
  state.me = null;
  root.removeAttribute("aria-busy");
  root.replaceChildren(
    renderSignIn({
      onSignedIn: () => {
        root.setAttribute("aria-busy", "true");
        boot();
      },
    }),
  );
}

function showFatal(err) {
  root.removeAttribute("aria-busy");
  root.replaceChildren(
    h(
      "div",
      { class: "center-screen" },
      h(
        "div",
        { class: "panel narrow" },
        h("h1", {}, "Something went wrong"),
        h("p", { class: "error-box", role: "alert" }, err.message || String(err)),
        h("button", { class: "btn", type: "button", onclick: () => location.reload() }, "Reload"),
      ),
    ),
  );
}

function showCompanyPicker() {
  teardown();
  root.removeAttribute("aria-busy");
  const list = h(
    "ul",
    { class: "company-list" },
    state.companies.map((c) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "company-choice",
            onclick: () => chooseCompany(c.id),
          },
          h("span", { class: "company-name" }, c.name),
          h("span", { class: "muted" }, `${c.id} · ${c.role}`),
        ),
      ),
    ),
  );
  root.replaceChildren(
    h(
      "div",
      { class: "center-screen" },
      h(
        "section",
        { class: "panel narrow", "aria-labelledby": "pick-title" },
        brand(),
        h("h1", { id: "pick-title" }, "Choose a company"),
        h("p", { class: "muted" }, `Signed in as ${state.me.email}`),
        state.companies.length ? list : h("p", {}, "You don't belong to any company yet."),
      ),
    ),
  );
  const first = root.querySelector(".company-choice");
  if (first) first.focus();
}

function chooseCompany(id) {
  localStorage.setItem(COMPANY_KEY, id);
  state.company = state.companies.find((c) => c.id === id) || null;
  renderShell();
}

function brand() {
  return h(
    "div",
    { class: "brand" },
    h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }),
    h("span", {}, "ledgerflow"),
  );
}

async function signOut() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch {
    // Signed out either way.
  }
  showSignIn();
}

function renderShell() {
  teardown();
  root.removeAttribute("aria-busy");
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    Object.entries(ROUTES).map(([name, r]) =>
      h("a", { href: `#/${name}`, class: "nav-link", dataset: { route: name } }, icon(r.icon, { size: 18 }), h("span", {}, r.label)),
    ),
  );
  let picker;
  if (state.companies.length > 1) {
    picker = h(
      "select",
      {
        id: "company-picker",
        class: "company-select",
        "aria-label": "Company",
        onchange: (e) => {
          chooseCompany(e.target.value);
        },
      },
      state.companies.map((c) =>
        h("option", { value: c.id, selected: state.company && c.id === state.company.id }, c.name),
      ),
    );
  } else {
    picker = h(
      "span",
      { class: "company-badge", id: "company-picker", title: state.company ? state.company.id : "" },
      state.company ? state.company.name : "No company",
    );
  }
  const header = h(
    "header",
    { class: "topbar" },
    brand(),
    nav,
    h(
      "div",
      { class: "topbar-right" },
      picker,
      h("span", { class: "user-email muted" }, state.me.email),
      h(
        "button",
        { type: "button", class: "icon-btn", "aria-label": "Sign out", title: "Sign out", onclick: signOut },
        icon("logout", { size: 18 }),
      ),
    ),
  );
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  root.replaceChildren(header, main);
  route();
}

function route() {
  const main = document.getElementById("main");
  if (!main || !state.me) return;
  teardown();
  state.tracker = new JobTracker({ transport: state.transport });
  const { name, query } = parseHash();
  // Links may name the company (the QuickBooks callback returns to #export?company=...).
  const wanted = query.get("company");
  if (wanted && wanted !== (state.company && state.company.id)) {
    const company = state.companies.find((c) => c.id === wanted);
    if (company) {
      localStorage.setItem(COMPANY_KEY, company.id);
      state.company = company;
      const picker = document.getElementById("company-picker");
      if (picker && picker.tagName === "SELECT") picker.value = company.id;
    }
  }
  for (const link of document.querySelectorAll(".nav-link")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${ROUTES[name].label} · ledgerflow`;
  main.replaceChildren();
  if (!state.company) {
    main.append(h("div", { class: "empty" }, "You don't belong to any company yet. Ask an owner to add you."));
    return;
  }
  const ctx = {
    me: state.me,
    company: state.company,
    companies: state.companies,
    transport: state.transport,
    tracker: state.tracker,
    query,
    navigate,
    toast,
  };
  state.cleanup = ROUTES[name].page.render(main, ctx) || null;
}

window.addEventListener("hashchange", () => {
  if (state.me && state.company) route();
});
window.addEventListener("lf:signed-out", () => {
  if (state.me) showSignIn();
});

boot();
