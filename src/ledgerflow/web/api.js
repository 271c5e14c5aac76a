// The HTTP API as the page uses it: the session cookie rides along, writes carry the CSRF token.

export const CSRF_COOKIE = "lf_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

export class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
  get notFound() {
    return this.status === 404;
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** A readable message out of FastAPI's ``detail`` (a string, or a list of {loc, msg}). */
export function describeDetail(detail, fallback) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  return fallback;
}

/**
 * fetch() for /api: JSON in and out, CSRF header on writes, ApiError on any non-2xx.
 * ``body`` may be a plain object (sent as JSON), FormData or URLSearchParams.
 */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  init.credentials = "same-origin";
  if (method !== "GET" && method !== "HEAD") {
    const token = readCookie(CSRF_COOKIE);
    if (token) init.headers[CSRF_HEADER] = token;
  }
  if (body instanceof FormData || body instanceof URLSearchParams) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Can't reach the server. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const fallback = `${response.status} ${response.statusText || "error"}`;
    const error = new ApiError(
      response.status,
      describeDetail(data && data.detail, fallback),
      data && data.detail,
    );
    if (response.status === 401 && !path.startsWith("/api/auth/")) {
      window.dispatchEvent(new CustomEvent("lf:signed-out"));
    }
    if (response.status === 429) {
      const wait = response.headers.get("Retry-After");
      if (wait) error.message += ` Try again in ${wait} s.`;
    }
    throw error;
  }
  return data;
}

let openapiPaths = null;

/**
 * Which endpoints this server has, from its OpenAPI document, so pages can say "not available
 * yet" before anyone clicks. If the document can't be read, everything counts as available and
 * a 404 from the endpoint itself tells the page instead.
 */
export async function hasEndpoint(path) {
  if (openapiPaths === null) {
    openapiPaths = fetch("/openapi.json", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((doc) => (doc && doc.paths ? new Set(Object.keys(doc.paths)) : undefined))
      .catch(() => undefined);
  }
  const paths = await openapiPaths;
  return paths === undefined ? true : paths.has(path);
}
