import { vi } from "vitest";

import type { Job } from "../src";

export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D",
    type: "upload_and_categorize",
    status: "running",
    progress: 0,
    message: null,
    result: null,
    error: null,
    company_id: "acme",
    created_at: "2026-11-26T10:00:00Z",
    started_at: "2026-11-26T10:00:01Z",
    finished_at: null,
    attempts: 1,
    ...overrides,
  };
}

export function ok(body: Job, etag = `"${body.id}.${body.progress}"`): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "Content-Type": "application/json", ETag: etag },
  });
}

export function notModified(etag: string): Response {
  return new Response(null, { status: 304, headers: { ETag: etag } });
}

export function problem(status: number, detail: string): Response {
  return new Response(JSON.stringify({ detail }), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export type Answer = Response | Error | (() => Response | Error);

/**
 * A fake `fetch` that answers from a script, one entry per request, repeating the last entry;
 * it records when (in fake time) each request was made and the headers it carried.
 */
export function scriptedFetch(...script: Answer[]) {
  const start = Date.now();
  const calls: { at: number; url: string; headers: Record<string, string> }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    calls.push({ at: Date.now() - start, url: String(input), headers });
    const entry = script[Math.min(calls.length - 1, script.length - 1)];
    const answer = typeof entry === "function" ? entry() : entry;
    if (answer instanceof Error) throw answer;
    return (answer as Response).clone();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, mock: fetch };
}
