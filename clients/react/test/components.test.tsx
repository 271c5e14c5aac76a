import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  JobProgress,
  JobProgressCompact,
  JobProgressModal,
  type JobStatusState,
} from "../src";
import { job, ok, scriptedFetch } from "./helpers";

const ID = "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D";

function state(overrides: Partial<JobStatusState> = {}): JobStatusState {
  return {
    job: job({ progress: 45, message: "Categorizing transaction 45/100..." }),
    status: "running",
    progress: 45,
    message: "Categorizing transaction 45/100...",
    result: null,
    error: null,
    isPolling: true,
    ...overrides,
  };
}

describe("JobProgress", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("follows a job: accessible bar, live message, result when done", async () => {
    const done = job({ status: "complete", progress: 100, message: "12 entries", result: { n: 12 } });
    const server = scriptedFetch(ok(job({ progress: 45, message: "Working 45/100" })), ok(done));
    render(
      <JobProgress
        jobId={ID}
        fetch={server.fetch}
        label="Importing chase.csv"
        renderResult={(result) => <span>{(result as { n: number }).n} imported</span>}
      />,
    );
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    const bar = screen.getByRole("progressbar", { name: "Importing chase.csv" });
    expect(bar.getAttribute("aria-valuenow")).toBe("45");
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("100");
    expect(bar.getAttribute("aria-valuetext")).toBe("45%: Working 45/100");
    const message = screen.getByText("Working 45/100");
    expect(message.getAttribute("aria-live")).toBe("polite");
    expect(screen.queryByText("12 imported")).toBeNull();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1000);
    });
    expect(bar.getAttribute("aria-valuenow")).toBe("100");
    expect(screen.getByText("12 imported")).toBeTruthy();
    const root = bar.closest(".lf-job-progress")!;
    expect(root.className).toContain("lf-job-progress--complete");
    expect(root.getAttribute("data-status")).toBe("complete");
  });

  it("shows a failure as an alert", () => {
    render(<JobProgress state={state({ status: "failed", error: "Bad file", isPolling: false })} />);
    expect(screen.getByRole("alert").textContent).toBe("Bad file");
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
  it("renders a small bar, the percentage, and a live region", () => {
    render(<JobProgressCompact state={state()} label="Import" />);
    const bar = screen.getByRole("progressbar", { name: "Import" });
    expect(bar.getAttribute("aria-valuenow")).toBe("45");
    expect(screen.getByText("45%")).toBeTruthy();
    const live = document.querySelector("[aria-live]")!;
    expect(live.textContent).toBe("Categorizing transaction 45/100...");
    expect(bar.parentElement!.getAttribute("title")).toBe("Categorizing transaction 45/100...");
  });
});

describe("JobProgressModal", () => {
  it("is a labelled modal dialog that closes with Escape and its button", () => {
    const onClose = vi.fn();
    const { rerender } = render(
      <JobProgressModal open state={state()} title="Importing" onClose={onClose} />,
    );
    const dialog = screen.getByRole("dialog", { name: "Importing" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement).toBe(dialog);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("45");
    fireEvent.keyDown(dialog, { key: "Escape" });
    fireEvent.click(screen.getByRole("button", { name: "Hide" }));
    expect(onClose).toHaveBeenCalledTimes(2);
    rerender(
      <JobProgressModal
        open
        state={state({ status: "complete", progress: 100, isPolling: false })}
        onClose={onClose}
      />,
    );
    expect(screen.getByRole("button", { name: "Close" })).toBeTruthy();
    rerender(<JobProgressModal open={false} state={state()} onClose={onClose} />);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("does not poll while closed", async () => {
    vi.useFakeTimers();
    const server = scriptedFetch(ok(job()));
    const { rerender } = render(<JobProgressModal open={false} jobId={ID} fetch={server.fetch} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(5000);
    });
    expect(server.calls).toHaveLength(0);
    rerender(<JobProgressModal open jobId={ID} fetch={server.fetch} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(server.calls).toHaveLength(1);
    vi.useRealTimers();
  });
});
