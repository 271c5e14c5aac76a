// "Use it from your code": curl and Python examples with this user's real ids, ready to paste.

import { h, icon } from "../dom.js";

export function curlExample({ base, email, companyId, jobId }) {
  return `# Sign in once; the token lasts a working day.
export LEDGERFLOW=${base}
export TOKEN=$(curl -s -X POST "$LEDGERFLOW/api/auth/token" \\
  -d username=${email} -d "password=$LEDGERFLOW_PASSWORD" | jq -r .access_token)

# Upload a bank statement: answers 202 with a job id at once.
curl -X POST "$LEDGERFLOW/api/jobs/upload-and-categorize" \\
  -H "Authorization: Bearer $TOKEN" \\
  -F file=@statement.csv -F company_id=${companyId}

# A job's status, progress and result (send the ETag back for a cheap 304).
curl "$LEDGERFLOW/api/jobs/${jobId}" -H "Authorization: Bearer $TOKEN"

# Or follow it live as Server-Sent Events until it ends.
curl -N "$LEDGERFLOW/api/jobs/${jobId}/events" -H "Authorization: Bearer $TOKEN"

# The company's job history, newest first.
curl "$LEDGERFLOW/api/jobs/company/${companyId}?status=running&limit=20" \\
  -H "Authorization: Bearer $TOKEN"`;
}

export function pythonExample({ base, email, companyId, jobId }) {
  return `import os
import time

import httpx

BASE = "${base}"
COMPANY = "${companyId}"

with httpx.Client(base_url=BASE, timeout=30) as http:
    token = http.post(
        "/api/auth/token",
        data={"username": "${email}", "password": os.environ["LEDGERFLOW_PASSWORD"]},
    ).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"

    # Start a job: 202 with its id at once; the work happens in the background.
    with open("statement.csv", "rb") as f:
        job_id = http.post(
            "/api/jobs/upload-and-categorize",
            files={"file": f},
            data={"company_id": COMPANY},
        ).json()["job_id"]
    # ...or follow one that already exists, e.g. job_id = "${jobId}"

    # Poll with backoff: 1 s, x1.5 every 5 polls, at most 5 s; a 304 means "no change".
    etag, polls = None, 0
    while True:
        time.sleep(min(5.0, 1.5 ** (polls // 5)))
        polls += 1
        answer = http.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag} if etag else {})
        if answer.status_code == 304:
            continue
        etag, job = answer.headers.get("ETag"), answer.json()
        print(f"{job['progress']:3d}% {job['message'] or ''}")
        if job["status"] in ("complete", "failed", "cancelled"):
            break
    print(job["status"], job["result"] or job["error"])`;
}

/** The section with tabs (curl | Python) and a Copy button; ``update({jobId})`` refills it. */
export function codeExamples(ctx) {
  const values = {
    base: location.origin,
    email: ctx.me.email,
    companyId: ctx.company.id,
    jobId: "job_…",
  };
  const tabs = [
    { key: "curl", label: "curl", make: curlExample },
    { key: "python", label: "Python", make: pythonExample },
  ];
  let active = 0;
  const pre = h("pre", { class: "code", id: "code-panel", role: "tabpanel", tabindex: "0" });
  const code = h("code", {});
  pre.append(code);
  const buttons = tabs.map((tab, i) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `code-tab-${tab.key}`,
        class: "tab",
        "aria-controls": "code-panel",
        onclick: () => select(i),
        onkeydown: (event) => {
          if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
            event.preventDefault();
            const next = (i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
            select(next);
            buttons[next].focus();
          }
        },
      },
      tab.label,
    ),
  );
  const copied = h("span", { class: "muted small", "aria-live": "polite" });
  const copy = h(
    "button",
    {
      type: "button",
      class: "btn btn-secondary btn-small",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(code.textContent);
          copied.textContent = "Copied";
        } catch {
          const range = document.createRange();
          range.selectNodeContents(code);
          const selection = getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          copied.textContent = "Selected: press Ctrl+C";
        }
        setTimeout(() => (copied.textContent = ""), 2500);
      },
    },
    icon("copy", { size: 16 }),
    "Copy",
  );

  function select(i) {
    active = i;
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    pre.setAttribute("aria-labelledby", buttons[i].id);
    code.textContent = tabs[i].make(values);
  }
  select(0);

  const el = h(
    "section",
    { class: "section", "aria-labelledby": "code-title", id: "code-examples" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "code-title" }, "Use it from your code"),
      h("div", { class: "code-tools" }, copied, copy),
    ),
    h(
      "p",
      { class: "muted small" },
      `Every job here is an HTTP call. These examples use your company `,
      h("code", {}, values.companyId),
      " and your latest job; set ",
      h("code", {}, "LEDGERFLOW_PASSWORD"),
      " in your shell first. The full reference is at ",
      h("a", { href: "/docs" }, "/docs"),
      ".",
    ),
    h("div", { class: "code-box" }, h("div", { class: "tabs", role: "tablist", "aria-label": "Language" }, buttons), pre),
  );
  return {
    el,
    update(changes) {
      Object.assign(values, changes);
      code.textContent = tabs[active].make(values);
    },
  };
}
