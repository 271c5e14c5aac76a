import { useEffect, useRef, useState } from "react";

import { DEFAULT_SCHEDULE, pollDelay, type PollSchedule } from "./schedule.js";
import type { Job, JobStatus } from "./types.js";

/**
 * Why a job is not (or not yet) a success:
 * - `failed` / `cancelled`: the job ended that way (`job` is set);
 * - `http`: the server refused the request (401, 403, 404, other 4xx): polling stops;
 * - `network`: `maxConsecutiveErrors` polls in a row failed (no answer, 5xx or 429, or a body
 *   that is not JSON): polling goes on, and the error clears at the next good answer.
 */
export type JobErrorKind = "failed" | "cancelled" | "http" | "network";

export class JobStatusError extends Error {
  readonly kind: JobErrorKind;
  /** The HTTP status, for `http` errors and for `network` errors that had an answer. */
  readonly status: number | null;
  /** The job, for `failed` and `cancelled`. */
  readonly job: Job | null;

  constructor(
    kind: JobErrorKind,
    message: string,
    extra: { status?: number | null; job?: Job | null } = {},
  ) {
    super(message);
    this.name = "JobStatusError";
    this.kind = kind;
    this.status = extra.status ?? null;
    this.job = extra.job ?? null;
  }
}

export interface UseJobStatusOptions extends Partial<PollSchedule> {
  /** Called once, when the job completes. */
  onComplete?: (job: Job) => void;
  /**
   * Called once when the job fails or is cancelled, once when the server refuses to show it,
   * and once per streak of `maxConsecutiveErrors` failed polls.
   */
  onError?: (error: JobStatusError) => void;
  /** Origin of the API, e.g. `https://books.example.com`; default: same origin. */
  baseUrl?: string;
  /** A `fetch` to use instead of the global one (tests, auth wrappers). */
  fetch?: typeof globalThis.fetch;
  /** Extra request headers, e.g. `{ Authorization: "Bearer ..." }`. */
  headers?: Record<string, string>;
  /** Default `same-origin`, which sends the web page's session cookie. */
  credentials?: RequestCredentials;
  /** Failed polls in a row before `error` is set and `onError` called; default 3. */
  maxConsecutiveErrors?: number;
}

export interface JobStatusState {
  /** The last job seen, or null before the first answer. */
  job: Job | null;
  status: JobStatus | null;
  progress: number;
  message: string | null;
  result: unknown;
  /** The job's error, or why it cannot be followed (see `JobStatusError`). */
  error: string | null;
  /** True while more polls are scheduled. */
  isPolling: boolean;
}

export const DEFAULT_MAX_CONSECUTIVE_ERRORS = 3;

interface Internal {
  job: Job | null;
  problem: string | null;
  isPolling: boolean;
}

const IDLE: Internal = { job: null, problem: null, isPolling: false };

function toState({ job, problem, isPolling }: Internal): JobStatusState {
  return {
    job,
    status: job?.status ?? null,
    progress: job?.progress ?? 0,
    message: job?.message ?? null,
    result: job?.result ?? null,
    error: problem ?? job?.error ?? null,
    isPolling,
  };
}

async function detailOf(response: Response): Promise<string> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "detail" in body) {
      const detail = (body as { detail: unknown }).detail;
      return typeof detail === "string" ? detail : JSON.stringify(detail);
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return `HTTP ${response.status}`;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Follow a job by polling `GET /api/jobs/{jobId}`.
 *
 * The first poll is immediate; the next ones follow `pollDelay` (1 s ×5, 1.5 s ×5, 2.25 s ×5,
 * … up to 5 s), each timed from the end of the previous poll. Every poll after the first sends
 * `If-None-Match` with the last `ETag`, so an unchanged job costs a `304`. Polling stops at a
 * final status (`onComplete` or `onError`, once), at an HTTP error other than 429/5xx, when
 * `jobId` changes (and restarts for the new one) and on unmount, which also aborts a poll in
 * flight: nothing is requested, set or called after that.
 */
export function useJobStatus(
  jobId: string | null | undefined,
  options: UseJobStatusOptions = {},
): JobStatusState {
  const {
    initialInterval = DEFAULT_SCHEDULE.initialInterval,
    backoff = DEFAULT_SCHEDULE.backoff,
    pollsPerStep = DEFAULT_SCHEDULE.pollsPerStep,
    maxInterval = DEFAULT_SCHEDULE.maxInterval,
    maxConsecutiveErrors = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    baseUrl = "",
  } = options;
  const [state, setState] = useState<Internal>(IDLE);
  // Callbacks, fetch and headers may be new objects at every render: read the latest ones
  // without restarting the polling loop.
  const latest = useRef(options);
  latest.current = options;

  useEffect(() => {
    if (!jobId) {
      setState(IDLE);
      return undefined;
    }
    const schedule: PollSchedule = { initialInterval, backoff, pollsPerStep, maxInterval };
    const url = `${baseUrl.replace(/\/+$/, "")}/api/jobs/${encodeURIComponent(jobId)}`;
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;
    let etag: string | null = null;
    let polls = 0;
    let failures = 0;
    let job: Job | null = null;

    const scheduleNext = (): void => {
      timer = setTimeout(() => void poll(), pollDelay(polls, schedule));
      polls += 1;
    };

    const stop = (problem: string | null, callback: () => void): void => {
      setState({ job, problem, isPolling: false });
      callback();
    };

    const transient = (reason: string, status: number | null): void => {
      failures += 1;
      if (failures === maxConsecutiveErrors) {
        const message = `Cannot reach the server (${failures} tries): ${reason}`;
        setState({ job, problem: message, isPolling: true });
        latest.current.onError?.(new JobStatusError("network", message, { status }));
      }
      scheduleNext();
    };

    const seen = (next: Job): void => {
      failures = 0;
      job = next;
      if (next.status === "complete") {
        stop(null, () => latest.current.onComplete?.(next));
      } else if (next.status === "failed" || next.status === "cancelled") {
        const message =
          next.error ?? (next.status === "failed" ? "The job failed." : "The job was cancelled.");
        const error = new JobStatusError(next.status, message, { job: next });
        stop(message, () => latest.current.onError?.(error));
      } else {
        setState({ job: next, problem: null, isPolling: true });
        scheduleNext();
      }
    };

    async function poll(): Promise<void> {
      timer = undefined;
      controller = new AbortController();
      const headers: Record<string, string> = {
        Accept: "application/json",
        ...latest.current.headers,
      };
      if (etag) headers["If-None-Match"] = etag;
      const fetchImpl = latest.current.fetch ?? globalThis.fetch.bind(globalThis);
      let response: Response;
      try {
        response = await fetchImpl(url, {
          headers,
          signal: controller.signal,
          credentials: latest.current.credentials ?? "same-origin",
          cache: "no-store",
        });
      } catch (error) {
        if (active) transient(reasonOf(error), null);
        return;
      }
      if (!active) return;
      if (response.status === 304 && job) {
        seen(job);
        return;
      }
      if (response.ok) {
        let body: Job;
        try {
          body = (await response.json()) as Job;
        } catch (error) {
          if (active) transient(reasonOf(error), response.status);
          return;
        }
        if (!active) return;
        etag = response.headers.get("ETag");
        seen(body);
        return;
      }
      const detail = await detailOf(response);
      if (!active) return;
      if (response.status === 429 || response.status >= 500) {
        transient(detail, response.status);
        return;
      }
      const error = new JobStatusError("http", detail, { status: response.status });
      stop(detail, () => latest.current.onError?.(error));
    }

    setState({ job: null, problem: null, isPolling: true });
    void poll();
    return () => {
      active = false;
      if (timer !== undefined) clearTimeout(timer);
      controller?.abort();
    };
  }, [jobId, baseUrl, initialInterval, backoff, pollsPerStep, maxInterval, maxConsecutiveErrors]);

  return toState(state);
}
