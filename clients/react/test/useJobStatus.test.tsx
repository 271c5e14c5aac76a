import { act, renderHook } from "@testing-library/react";
import { StrictMode, type ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { JobStatusError, pollDelay, useJobStatus, type UseJobStatusOptions } from "../src";
import { job, notModified, ok, problem, scriptedFetch } from "./helpers";

const ID = "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D";

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

function follow(options: UseJobStatusOptions, id: string | null = ID) {
  return renderHook(({ jobId }) => useJobStatus(jobId, options), {
    initialProps: { jobId: id },
  });
}

describe("pollDelay", () => {
  it("is 1 s ×5, 1.5 s ×5, 2.25 s ×5, 3.375 s ×5, then 5 s", () => {
    const delays = Array.from({ length: 30 }, (_, i) => pollDelay(i));
    expect(delays).toEqual([
      ...Array(5).fill(1000),
      ...Array(5).fill(1500),
      ...Array(5).fill(2250),
      ...Array(5).fill(3375),
      ...Array(10).fill(5000),
    ]);
  });

  it("follows custom settings", () => {
    const schedule = { initialInterval: 100, backoff: 2, pollsPerStep: 2, maxInterval: 700 };
    expect(Array.from({ length: 8 }, (_, i) => pollDelay(i, schedule))).toEqual([
      100, 100, 200, 200, 400, 400, 700, 700,
    ]);
  });
});

describe("useJobStatus", () => {
  it("polls at once, then on the exact backoff schedule", async () => {
    const server = scriptedFetch(ok(job({ progress: 10 })));
    follow({ fetch: server.fetch });
    await advance(50_000);
    const expected = [0];
    for (let i = 0; expected.length < server.calls.length; i++) {
      expected.push(expected[expected.length - 1]! + pollDelay(i));
    }
    expect(server.calls.map((c) => c.at)).toEqual(expected);
    expect(expected.slice(0, 12)).toEqual([
      0, 1000, 2000, 3000, 4000, 5000, 6500, 8000, 9500, 11000, 12500, 14750,
    ]);
    expect(expected.at(-1)).toBeLessThanOrEqual(50_000);
    expect(expected.at(-1)! + 5000).toBeGreaterThan(50_000);
  });

  it("uses custom intervals", async () => {
    const server = scriptedFetch(ok(job()));
    follow({ fetch: server.fetch, initialInterval: 200, backoff: 2, pollsPerStep: 2, maxInterval: 500 });
    await advance(2_000);
    expect(server.calls.map((c) => c.at)).toEqual([0, 200, 400, 800, 1200, 1700]);
  });

  it("reports status, progress and message, and sends the last ETag", async () => {
    const server = scriptedFetch(
      ok(job({ status: "pending" }), '"a"'),
      ok(job({ progress: 40, message: "Categorizing 4/10..." }), '"b"'),
      notModified('"b"'),
    );
    const { result } = follow({ fetch: server.fetch });
    expect(result.current.isPolling).toBe(true);
    await advance(0);
    expect(result.current).toMatchObject({ status: "pending", progress: 0, isPolling: true });
    await advance(1000);
    expect(result.current).toMatchObject({
      status: "running",
      progress: 40,
      message: "Categorizing 4/10...",
      error: null,
    });
    await advance(1000);
    expect(result.current.progress).toBe(40);
    expect(server.calls.map((c) => c.headers["If-None-Match"])).toEqual([undefined, '"a"', '"b"']);
    expect(server.calls[0]!.url).toBe(`/api/jobs/${ID}`);
    expect(server.calls[0]!.headers.Accept).toBe("application/json");
  });

  it("stops on complete and calls onComplete once", async () => {
    const done = job({ status: "complete", progress: 100, result: { inserted: 12 } });
    const server = scriptedFetch(ok(job({ progress: 50 })), ok(done));
    const onComplete = vi.fn();
    const onError = vi.fn();
    const { result, rerender } = follow({ fetch: server.fetch, onComplete, onError });
    await advance(1000);
    expect(result.current).toMatchObject({
      status: "complete",
      progress: 100,
      result: { inserted: 12 },
      isPolling: false,
    });
    rerender({ jobId: ID });
    await advance(60_000);
    expect(server.calls).toHaveLength(2);
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(onComplete).toHaveBeenCalledWith(done);
    expect(onError).not.toHaveBeenCalled();
  });

  it("stops on failed and calls onError once with the job's error", async () => {
    const failed = job({ status: "failed", error: "The file has no amount column." });
    const server = scriptedFetch(ok(job()), ok(job()), ok(failed));
    const onComplete = vi.fn();
    const onError = vi.fn();
    const { result } = follow({ fetch: server.fetch, onComplete, onError });
    await advance(60_000);
    expect(server.calls).toHaveLength(3);
    expect(result.current).toMatchObject({
      status: "failed",
      error: "The file has no amount column.",
      isPolling: false,
    });
    expect(onError).toHaveBeenCalledTimes(1);
    const error = onError.mock.calls[0]![0] as JobStatusError;
    expect(error).toBeInstanceOf(JobStatusError);
    expect(error.kind).toBe("failed");
    expect(error.job).toEqual(failed);
    expect(onComplete).not.toHaveBeenCalled();
  });

  it("stops on cancelled with a cancelled error", async () => {
    const server = scriptedFetch(ok(job({ status: "cancelled" })));
    const onError = vi.fn();
    const { result } = follow({ fetch: server.fetch, onError });
    await advance(10_000);
    expect(server.calls).toHaveLength(1);
    expect(result.current.error).toBe("The job was cancelled.");
    expect((onError.mock.calls[0]![0] as JobStatusError).kind).toBe("cancelled");
  });

  it("calls onComplete once under StrictMode's double effects", async () => {
    const server = scriptedFetch(ok(job()), ok(job({ status: "complete", progress: 100 })));
    const onComplete = vi.fn();
    renderHook(() => useJobStatus(ID, { fetch: server.fetch, onComplete }), {
      wrapper: ({ children }: { children: ReactNode }) => <StrictMode>{children}</StrictMode>,
    });
    await advance(30_000);
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(server.mock.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it("uses the latest callbacks without restarting", async () => {
    const server = scriptedFetch(ok(job()), ok(job({ status: "complete", progress: 100 })));
    const first = vi.fn();
    const second = vi.fn();
    const { rerender } = renderHook(
      ({ onComplete }) => useJobStatus(ID, { fetch: server.fetch, onComplete }),
      { initialProps: { onComplete: first } },
    );
    await advance(0);
    rerender({ onComplete: second });
    await advance(1000);
    expect(server.calls).toHaveLength(2);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
  });

  it("makes no request after unmount", async () => {
    const server = scriptedFetch(ok(job()));
    const { unmount } = follow({ fetch: server.fetch });
    await advance(2_500);
    expect(server.calls).toHaveLength(3);
    unmount();
    await advance(60_000);
    expect(server.calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("aborts a poll in flight on unmount and ignores its answer", async () => {
    let release: (response: Response) => void = () => undefined;
    let signal: AbortSignal | undefined;
    const fetch = vi.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((resolve) => {
          signal = init?.signal ?? undefined;
          release = resolve;
        }),
    );
    const onComplete = vi.fn();
    const { result, unmount } = follow({ fetch: fetch as typeof globalThis.fetch, onComplete });
    await advance(0);
    unmount();
    expect(signal?.aborted).toBe(true);
    release(ok(job({ status: "complete", progress: 100 })));
    await advance(10_000);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(onComplete).not.toHaveBeenCalled();
    expect(result.current.status).toBeNull();
  });

  it("restarts for a new job id and is idle without one", async () => {
    const server = scriptedFetch(ok(job()));
    const { result, rerender } = follow({ fetch: server.fetch }, null);
    await advance(5_000);
    expect(server.calls).toHaveLength(0);
    expect(result.current).toMatchObject({ status: null, isPolling: false });
    rerender({ jobId: ID });
    await advance(1_500);
    rerender({ jobId: "job_other" });
    await advance(0);
    expect(server.calls.map((c) => c.url)).toEqual([
      `/api/jobs/${ID}`,
      `/api/jobs/${ID}`,
      "/api/jobs/job_other",
    ]);
    expect(server.calls[2]!.headers["If-None-Match"]).toBeUndefined();
    rerender({ jobId: null });
    await advance(60_000);
    expect(server.calls).toHaveLength(3);
  });

  it("joins baseUrl and sends extra headers", async () => {
    const server = scriptedFetch(ok(job({ status: "complete" })));
    follow({
      fetch: server.fetch,
      baseUrl: "https://books.example.com/",
      headers: { Authorization: "Bearer t0k3n" },
    });
    await advance(0);
    expect(server.calls[0]!.url).toBe(`https://books.example.com/api/jobs/${ID}`);
    expect(server.calls[0]!.headers.Authorization).toBe("Bearer t0k3n");
  });
});

describe("useJobStatus on network errors", () => {
  it("keeps the schedule and surfaces the error after 3 failures in a row", async () => {
    const down = new TypeError("Failed to fetch");
    const server = scriptedFetch(ok(job({ progress: 5 })), down, down, down, down, ok(job({ progress: 60 })));
    const onError = vi.fn();
    const { result } = follow({ fetch: server.fetch, onError });
    await advance(0);
    await advance(2000);
    expect(result.current).toMatchObject({ progress: 5, error: null, isPolling: true });
    expect(onError).not.toHaveBeenCalled();
    await advance(1000);
    expect(result.current.error).toMatch(/Cannot reach the server \(3 tries\): Failed to fetch/);
    expect(result.current.isPolling).toBe(true);
    expect(onError).toHaveBeenCalledTimes(1);
    expect((onError.mock.calls[0]![0] as JobStatusError).kind).toBe("network");
    await advance(1000);
    expect(onError).toHaveBeenCalledTimes(1);
    await advance(1000);
    expect(result.current).toMatchObject({ progress: 60, error: null, isPolling: true });
    await advance(1500);
    expect(server.calls.map((c) => c.at)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6500]);
  });

  it("treats 5xx and 429 as transient, with a configurable threshold", async () => {
    const server = scriptedFetch(problem(503, "Database restarting"), problem(429, "Slow down"));
    const onError = vi.fn();
    const { result } = follow({ fetch: server.fetch, onError, maxConsecutiveErrors: 2 });
    await advance(0);
    expect(result.current.error).toBeNull();
    await advance(1000);
    expect(result.current.error).toMatch(/Slow down/);
    expect((onError.mock.calls[0]![0] as JobStatusError).status).toBe(429);
    await advance(10_000);
    expect(server.calls.length).toBeGreaterThan(5);
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it("stops on 404 with the server's detail", async () => {
    const server = scriptedFetch(problem(404, "Job not found."));
    const onError = vi.fn();
    const { result } = follow({ fetch: server.fetch, onError });
    await advance(30_000);
    expect(server.calls).toHaveLength(1);
    expect(result.current).toMatchObject({ error: "Job not found.", isPolling: false });
    const error = onError.mock.calls[0]![0] as JobStatusError;
    expect([error.kind, error.status]).toEqual(["http", 404]);
  });
});
