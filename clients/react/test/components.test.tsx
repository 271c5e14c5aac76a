import { act, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  JobProgress,
  JobProgressCompact,
  JobProgressModal,
  type Job,
  type JobStatusState,
} from "../src";
import { job, ok, scriptedFetch } from "./helpers";

const ID = "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D";

function state(overrides: Partial<Job> = {}, extra: Partial<JobStatusState> = {}): JobStatusState {
  const current = job({ progress: 45, message: "Categorizing transaction 45/100...", ...overrides });
  const final = ["complete", "failed", "cancelled"].includes(current.status);
  return {
    job: current,
    status: current.status,
    progress: current.progress,
    message: current.message,
    result: current.result,
    error: current.status === "failed" ? (current.error ?? "The job failed.") : null,
    isPolling: !final,
    ...extra,
  };
}

async function flush(ms = 0): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

describe("JobProgress (the card)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("follows a job: labelled bar, live message, result when done", async () => {
    const done = job({
      status: "complete",
      progress: 100,
      message: "12 journal entries created",
      result: { inserted: 12 },
    });
    const server = scriptedFetch(ok(job({ progress: 45, message: "Working 45/100" })), ok(done));
    render(
      <JobProgress
        jobId={ID}
        fetch={server.fetch}
        subtitle="chase.csv"
        renderResult={(result) => <span>{(result as { inserted: number }).inserted} imported</span>}
        resultLink={() => ({ href: "/transactions", label: "Review" })}
      />,
    );
    await flush();
    const card = screen.getByRole("article", { name: "Upload & categorize" });
    const bar = screen.getByRole("progressbar", { name: "Upload & categorize" });
    expect(bar.getAttribute("aria-valuenow")).toBe("45");
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("100");
    expect(bar.getAttribute("aria-valuetext")).toBe("45% – Working 45/100");
    const message = screen.getByRole("status");
    expect(message.textContent).toBe("Working 45/100");
    expect(message.getAttribute("aria-live")).toBe("polite");
    expect(screen.getByText("Running")).toBeTruthy();
    expect(screen.getByText("chase.csv")).toBeTruthy();
    expect(screen.queryByText("12 imported")).toBeNull();

    await flush(1000);
    expect(bar.getAttribute("aria-valuenow")).toBe("100");
    expect(screen.getByText("12 imported")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Review" }).getAttribute("href")).toBe("/transactions");
    expect(card.className).toContain("lf-job-progress--complete");
    expect(card.getAttribute("data-status")).toBe("complete");
    expect(screen.getByText("Complete")).toBeTruthy();
  });

  it("shows a failure in an alert, with Retry and Dismiss", () => {
    const onRetry = vi.fn();
    const onDismiss = vi.fn();
    const onCancel = vi.fn();
    render(
      <JobProgress
        state={state({ status: "failed", error: "The file has no amount column." })}
        onRetry={onRetry}
        onDismiss={onDismiss}
        onCancel={onCancel}
      />,
    );
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toBe("The job failedThe file has no amount column.");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(onRetry).toHaveBeenCalledTimes(1);
    expect(onDismiss).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
  });

  it("offers Cancel while running, and words a cancellation like the web page", () => {
    const onCancel = vi.fn();
    const { rerender } = render(<JobProgress state={state()} onCancel={onCancel} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalledWith(expect.objectContaining({ id: ID }));
    rerender(<JobProgress state={state({ status: "cancelled" })} onCancel={onCancel} />);
    expect(screen.getByRole("status").textContent).toBe(
      "Stopped during: Categorizing transaction 45/100...",
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    rerender(<JobProgress state={state({ status: "pending", progress: 0, message: null })} />);
    expect(screen.getByRole("status").textContent).toBe("Waiting for a worker…");
  });

  it("says when the job cannot be followed", () => {
    render(
      <JobProgress state={{ ...state(), job: null, status: null, error: "Job not found." }} />,
    );
    expect(screen.getByRole("alert").textContent).toBe("Cannot follow this jobJob not found.");
  });

  it("is unstyled: class names only, except the fill's width", () => {
    const { container } = render(<JobProgress state={state()} className="mine" />);
    const root = container.firstElementChild!;
    expect(root.className).toBe("lf-job-progress lf-job-progress--running mine");
    const styled = container.querySelectorAll("[style]");
    expect(styled).toHaveLength(1);
    expect((styled[0] as HTMLElement).style.width).toBe("45%");
  });
});

describe("JobProgressCompact", () => {
  it("renders the status, a small labelled bar, the percentage, and a live region", () => {
    const { container } = render(<JobProgressCompact state={state()} />);
    const bar = screen.getByRole("progressbar", { name: "Upload & categorize: Running" });
    expect(bar.getAttribute("aria-valuenow")).toBe("45");
    expect(screen.getByText("45%")).toBeTruthy();
    const live = container.querySelector("[aria-live]")!;
    expect(live.textContent).toBe("Categorizing transaction 45/100...");
    const root = container.firstElementChild!;
    expect(root.getAttribute("title")).toBe("Categorizing transaction 45/100...");
    expect(root.className).toBe("lf-job-progress-compact lf-job-progress-compact--running");
  });
});

describe("JobProgressModal", () => {
  function Harness({ initial }: { initial: JobStatusState }) {
    const [open, setOpen] = useState(false);
    return (
      <>
        <button type="button" onClick={() => setOpen(true)}>
          Import
        </button>
        <JobProgressModal
          open={open}
          state={initial}
          title="Importing chase.csv"
          onClose={() => setOpen(false)}
          onCancel={() => undefined}
        />
      </>
    );
  }

  it("is a labelled modal dialog: focus in, trapped, back to the opener on close", () => {
    render(<Harness initial={state()} />);
    const opener = screen.getByRole("button", { name: "Import" });
    opener.focus();
    fireEvent.click(opener);
    const dialog = screen.getByRole("dialog", { name: "Importing chase.csv" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    const close = screen.getByRole("button", { name: "Continue in background" });
    expect(document.activeElement).toBe(close);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("45");
    fireEvent.keyDown(close, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.keyDown(document.activeElement!, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(close);
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it("says Close once the job ended; the backdrop closes it", () => {
    const onClose = vi.fn();
    const { container } = render(
      <JobProgressModal open state={state({ status: "complete", progress: 100 })} onClose={onClose} />,
    );
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    fireEvent.mouseDown(container.querySelector(".lf-job-progress-modal__backdrop")!);
    fireEvent.mouseDown(screen.getByRole("dialog"));
    expect(onClose).toHaveBeenCalledTimes(2);
  });

  it("polls only while open", async () => {
    vi.useFakeTimers();
    const server = scriptedFetch(ok(job()));
    const onClose = vi.fn();
    const { rerender } = render(
      <JobProgressModal open={false} jobId={ID} fetch={server.fetch} onClose={onClose} />,
    );
    await flush(5000);
    expect(server.calls).toHaveLength(0);
    rerender(<JobProgressModal open jobId={ID} fetch={server.fetch} onClose={onClose} />);
    await flush();
    expect(server.calls).toHaveLength(1);
    rerender(<JobProgressModal open={false} jobId={ID} fetch={server.fetch} onClose={onClose} />);
    await flush(60_000);
    expect(server.calls).toHaveLength(1);
    vi.useRealTimers();
  });
});
