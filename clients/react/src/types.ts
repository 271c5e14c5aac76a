/** Shapes of the HTTP API, taken from the generated OpenAPI types so they cannot drift. */
import type { components } from "./api-types.js";

type Schemas = components["schemas"];

/** A job as `GET /api/jobs/{job_id}` returns it. */
export type Job = Schemas["JobOut"];
/** `pending → running → complete | failed | cancelled`. */
export type JobStatus = Job["status"];
/** What the `POST /api/jobs/...` endpoints answer. */
export type JobAccepted = Schemas["JobAccepted"];
/** A page of `GET /api/jobs/company/{company_id}`. */
export type JobList = Schemas["JobList"];

export const FINAL_STATUSES: readonly JobStatus[] = ["complete", "failed", "cancelled"];

export function isFinalStatus(status: JobStatus | null | undefined): boolean {
  return status != null && FINAL_STATUSES.includes(status);
}
