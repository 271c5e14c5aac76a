// Follow a background job until it ends: Server-Sent Events first, polling with backoff after.
//
//   import { watchJob } from "./jobStatus.js";
//   const watch = watchJob(jobId, {
//     onProgress: (job) => ...,        // every new state, the final one included
//     onComplete: (result, job) => ..., // status "complete"
//     onError: (error) => ...,          // "failed", "cancelled", or the job can't be read
//     element: card,                    // stop when this element leaves the document
//   });
//   watch.stop();
//
// Polling asks GET /api/jobs/{id} with If-None-Match (an unchanged job answers 304), waiting
// pollDelay(n) before poll n: 1 s for the first five, then ×1.5 every five polls, at most 5 s.

export const FINAL_STATUSES = Object.freeze(["complete", "failed", "cancelled"]);
export const BACKOFF = Object.freeze({ initial: 1000, factor: 1.5, every: 5, max: 5000 });

/** At most this many jobs follow an SSE stream at once (browsers allow ~6 connections per
 * host over HTTP/1.1); the others poll, so the page never runs out of connections. */
export const MAX_STREAMS = 4;

/**
 * Milliseconds to wait before poll number ``n`` (0 = the first poll): 1000 for polls 0–4,
 * 1500 for 5–9, 2250 for 10–14, 3375 for 15–19, then 5000 (the cap). A pure function.
 */
export function pollDelay(n, backoff = BACKOFF) {
  const { initial, factor, every, max } = { ...BACKOFF, ...backoff };
  const step = Math.floor(Math.max(0, n) / every);
  return Math.min(max, initial * factor ** step);
}

/** The first ``count`` delays of the schedule, e.g. pollSchedule(7) → [1000 ×5, 1500, 1500]. */
export function pollSchedule(count, backoff = BACKOFF) {
  return Array.from({ length: count }, (_, n) => pollDelay(n, backoff));
}

export function isFinal(status) {
  return FINAL_STATUSES.includes(status);
}

/** A job that ended as failed or cancelled, or a job the server won't show us. */
export class JobError extends Error {
  constructor(message, { job = null, status = null, cancelled = false } = {}) {
    super(message);
    this.name = "JobError";
    this.job = job;
    this.httpStatus = status;
    this.cancelled = cancelled;
  }
}

const live = new Set();
let openStreams = 0;

/** How many watches are running (for tests and debugging). */
export function activeWatches() {
  return live.size;
}

/** Stop every watch (the page calls this on unload). */
export function stopAll() {
  for (const watch of [...live]) watch.stop();
}

if (typeof window !== "undefined") {
  window.addEventListener("pagehide", stopAll);
  window.addEventListener("beforeunload", stopAll);
}

/**
 * Follow job ``jobId``. Options:
 * - ``onProgress(job)``, ``onComplete(result, job)``, ``onError(error)``; ``onCancelled(job)``
 *   if given takes cancelled jobs, otherwise they reach ``onError`` with ``error.cancelled``.
 * - ``transport``: "auto" (SSE, falling back to polling when the stream fails; the default)
 *   or "poll" (polling only).
 * - ``element``: stop once this element is no longer in the document.
 * - ``signal``: an AbortSignal that stops the watch.
 * - ``backoff``: override {initial, factor, every, max} (milliseconds).
 * - ``baseUrl``, ``fetch``, ``EventSource``: for use outside the page, and for tests.
 *
 * Returns {stop(), job (the latest state), transport ("sse" | "poll"), polls, done (Promise)}.
 */
export function watchJob(jobId, options = {}) {
  const {
    onProgress = () => {},
    onComplete = () => {},
    onError = () => {},
    onCancelled = null,
    transport = "auto",
    element = null,
    signal = null,
    backoff = BACKOFF,
    baseUrl = "",
  } = options;
  const fetchFn = options.fetch || globalThis.fetch.bind(globalThis);
  const EventSourceImpl =
    options.EventSource || (typeof EventSource !== "undefined" ? EventSource : null);
  const url = `${baseUrl}/api/jobs/${encodeURIComponent(jobId)}`;

  let stopped = false;
  let source = null;
  let timer = null;
  let watchdog = null;
  let etag = null;
  let lastPollAt = null;
  let lastKey = null;
  let resolveDone;
  const controller = new AbortController();

  const handle = {
    job: null,
    transport: null,
    polls: 0,
    done: new Promise((resolve) => (resolveDone = resolve)),
    stop,
  };

  function call(fn, ...args) {
    try {
      fn(...args);
    } catch (err) {
      console.error("jobStatus callback failed", err);
    }
  }

  function closeStream() {
    if (source) {
      source.close();
      source = null;
      openStreams -= 1;
    }
  }

  function stop() {
    if (stopped) return;
    stopped = true;
    closeStream();
    clearTimeout(timer);
    clearInterval(watchdog);
    controller.abort();
    live.delete(handle);
    resolveDone(handle.job);
  }

  function deliver(job) {
    if (stopped || !job || job.id !== jobId) return;
    const key = `${job.status}|${job.progress}|${job.message}|${job.attempts}`;
    handle.job = job;
    if (key !== lastKey) {
      lastKey = key;
      call(onProgress, job);
    }
    if (!isFinal(job.status)) return;
    stop();
    if (job.status === "complete") {
      call(onComplete, job.result, job);
    } else if (job.status === "cancelled" && onCancelled) {
      call(onCancelled, job);
    } else {
      const message = job.status === "cancelled" ? "The job was cancelled." : job.error || "The job failed.";
      call(onError, new JobError(message, { job, cancelled: job.status === "cancelled" }));
    }
  }

  function fail(error) {
    if (stopped) return;
    stop();
    call(onError, error);
  }

  // --- polling ---------------------------------------------------------------------------
  function schedule(extraWait = 0) {
    if (stopped) return;
    const delay = Math.max(pollDelay(handle.polls, backoff), extraWait);
    // Measured from the start of the previous request, so slow answers don't stretch it.
    const due = (lastPollAt ?? performance.now()) + delay;
    timer = setTimeout(poll, Math.max(0, due - performance.now()));
  }

  async function poll() {
    if (stopped) return;
    lastPollAt = performance.now();
    handle.polls += 1;
    let retryAfter = 0;
    try {
      const headers = { Accept: "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      const response = await fetchFn(url, {
        headers,
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 304) {
        // unchanged
      } else if (response.ok) {
        etag = response.headers.get("ETag") || null;
        deliver(await response.json());
      } else if ([401, 403, 404].includes(response.status)) {
        const body = await response.json().catch(() => null);
        const detail = body && typeof body.detail === "string" ? body.detail : null;
        fail(
          new JobError(detail || `Can't read job ${jobId} (${response.status}).`, {
            status: response.status,
          }),
        );
        return;
      } else if (response.status === 429) {
        retryAfter = 1000 * Number(response.headers.get("Retry-After") || 0);
      }
      // 5xx and other hiccups: keep polling on the schedule.
    } catch (err) {
      if (stopped || err.name === "AbortError") return;
      // Network error: the next poll tries again.
    }
    schedule(retryAfter);
  }

  function startPolling() {
    if (stopped) return;
    handle.transport = "poll";
    schedule();
  }

  // --- Server-Sent Events ------------------------------------------------------------------
  function startStream() {
    if (!EventSourceImpl || openStreams >= MAX_STREAMS) {
      startPolling();
      return;
    }
    handle.transport = "sse";
    openStreams += 1;
    source = new EventSourceImpl(`${url}/events`, { withCredentials: true });
    const onEvent = (event) => {
      let job;
      try {
        job = JSON.parse(event.data);
      } catch {
        return;
      }
      deliver(job);
    };
    for (const name of ["progress", ...FINAL_STATUSES]) source.addEventListener(name, onEvent);
    source.onerror = () => {
      if (stopped) return;
      // The stream broke (or was refused): follow the job by polling from here on.
      closeStream();
      startPolling();
    };
  }

  // --- lifetime --------------------------------------------------------------------------
  if (signal) {
    if (signal.aborted) {
      stopped = true;
      resolveDone(null);
      return handle;
    }
    signal.addEventListener("abort", stop, { once: true });
  }
  if (element) {
    watchdog = setInterval(() => {
      if (!element.isConnected) stop();
    }, 500);
  }
  live.add(handle);
  if (transport === "poll") startPolling();
  else startStream();
  return handle;
}
