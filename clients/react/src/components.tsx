import {
  useEffect,
  useId,
  useRef,
  type KeyboardEvent,
  type ReactElement,
  type ReactNode,
} from "react";

import { isFinalStatus, type Job } from "./types.js";
import { useJobStatus, type JobStatusState, type UseJobStatusOptions } from "./useJobStatus.js";

/*
 * The three forms of job progress the web page (src/ledgerflow/web/progress.js) uses: a full
 * card, a compact indicator for table rows, and a modal holding the card. They carry `lf-`
 * class names and no styles (import `@ledgerflow/react/styles.css` for a plain look); the only
 * inline style is the bar's fill width. Each follows `jobId` itself, with the `useJobStatus`
 * options, or shows a `state` you already have from your own `useJobStatus` call.
 */

export const JOB_TYPES: Readonly<Record<string, string>> = {
  upload_and_categorize: "Upload & categorize",
  categorize_transactions: "Categorize transactions",
  process_receipt_ocr: "Receipt OCR",
  bulk_approve_transactions: "Bulk approve",
  export_to_quickbooks: "QuickBooks export",
};

export const STATUS_LABELS: Readonly<Record<string, string>> = {
  pending: "Pending",
  running: "Running",
  complete: "Complete",
  failed: "Failed",
  cancelled: "Cancelled",
};

export interface JobProgressSource extends UseJobStatusOptions {
  /** The job to follow; ignored when `state` is given. */
  jobId?: string | null;
  /** A state from your own `useJobStatus` call: nothing is polled then. */
  state?: JobStatusState;
}

export interface JobProgressProps extends JobProgressSource {
  /** Default: the job type's name, e.g. "Upload & categorize". */
  title?: ReactNode;
  subtitle?: ReactNode;
  /** Heading level of the title (default 3). */
  headingLevel?: 2 | 3 | 4 | 5 | 6;
  /** Id for the title element (the bar and the card are labelled by it). */
  titleId?: string;
  className?: string;
  /** What to show when the job is complete; default: its message. */
  renderResult?: (result: unknown, job: Job) => ReactNode;
  /** A link under the result, e.g. to the imported transactions or a download. */
  resultLink?: (job: Job) => { href: string; label?: string; download?: boolean } | null;
  /** Shows a Cancel button while the job runs. */
  onCancel?: (job: Job) => void;
  /** Shows a Retry button once the job failed or was cancelled. */
  onRetry?: (job: Job) => void;
  /** Shows a Dismiss button once the job ended. */
  onDismiss?: (job: Job) => void;
}

function useSource({ jobId, state, ...options }: JobProgressSource): JobStatusState {
  const own = useJobStatus(state ? null : jobId, options);
  return state ?? own;
}

function classes(...names: (string | false | null | undefined)[]): string {
  return names.filter(Boolean).join(" ");
}

export function jobTitle(job: Job | null): string {
  return job ? (JOB_TYPES[job.type] ?? job.type) : "Job";
}

/** The line under the bar, as the web page words it. */
export function statusText(state: JobStatusState): string {
  const { job } = state;
  if (!job) return state.error ? "" : "Loading…";
  if (job.status === "cancelled") {
    if (job.message) return `Stopped during: ${job.message}`;
    return job.started_at ? "Cancelled while it ran." : "Cancelled before it started.";
  }
  if (job.message) return job.message;
  if (job.status === "pending") return "Waiting for a worker…";
  if (job.status === "running") return "Starting…";
  return "";
}

/** The percentage to show: 100 once complete. */
function percentOf(state: JobStatusState): number {
  const value = state.status === "complete" ? 100 : state.progress;
  return Math.max(0, Math.min(100, Math.round(value || 0)));
}

interface BarProps {
  block: string;
  value: number;
  text: string;
  busy: boolean;
  labelledBy?: string;
  label?: string;
}

function Bar({ block, value, text, busy, labelledBy, label }: BarProps): ReactElement {
  return (
    <div
      className={`${block}__bar`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value}
      aria-valuetext={text ? `${value}% – ${text}` : `${value}%`}
      aria-labelledby={labelledBy}
      aria-label={labelledBy ? undefined : label}
      aria-busy={busy}
    >
      <div className={`${block}__fill`} style={{ width: `${value}%` }} />
    </div>
  );
}

/**
 * The full card: title and status, bar and percentage, the message in a live region, then the
 * result (complete) or the error in an alert (failed, or the job cannot be followed), and the
 * Cancel / Retry / Dismiss buttons for the callbacks you pass.
 */
export function JobProgress({
  title,
  subtitle,
  headingLevel = 3,
  titleId,
  className,
  renderResult,
  resultLink,
  onCancel,
  onRetry,
  onDismiss,
  ...source
}: JobProgressProps): ReactElement {
  const state = useSource(source);
  const ownId = useId();
  const headingId = titleId ?? ownId;
  const block = "lf-job-progress";
  const { job, status } = state;
  const value = percentOf(state);
  const text = statusText(state);
  const Heading = `h${headingLevel}` as "h3";
  const link = job && status === "complete" && resultLink ? resultLink(job) : null;
  const problem = status === "failed" || (state.error && status !== "cancelled");
  return (
    <article
      className={classes(block, `${block}--${status ?? "loading"}`, className)}
      data-status={status ?? "loading"}
      aria-labelledby={headingId}
    >
      <header className={`${block}__head`}>
        <div className={`${block}__heading`}>
          <Heading className={`${block}__title`} id={headingId}>
            {title ?? jobTitle(job)}
          </Heading>
          {subtitle ? <p className={`${block}__subtitle`}>{subtitle}</p> : null}
        </div>
        <span className={`${block}__status`}>{status ? STATUS_LABELS[status] : "Loading"}</span>
        {job && isFinalStatus(status) && onDismiss ? (
          <button
            type="button"
            className={`${block}__dismiss`}
            aria-label="Dismiss"
            title="Dismiss"
            onClick={() => onDismiss(job)}
          >
            ×
          </button>
        ) : null}
      </header>
      <div className={`${block}__bar-row`}>
        <Bar block={block} value={value} text={text} busy={state.isPolling} labelledBy={headingId} />
        <span className={`${block}__percent`} aria-hidden="true">
          {value}%
        </span>
      </div>
      <p
        className={classes(`${block}__message`, status === "complete" && "lf-visually-hidden")}
        role="status"
        aria-live="polite"
      >
        {text}
      </p>
      {job && status === "complete" ? (
        <div className={`${block}__result`}>
          {renderResult ? renderResult(state.result, job) : <p>{job.message}</p>}
          {link ? (
            <a className={`${block}__link`} href={link.href} download={link.download || undefined}>
              {link.label ?? "View results"}
            </a>
          ) : null}
        </div>
      ) : null}
      {problem ? (
        <div className={`${block}__error`} role="alert">
          <strong>{status === "failed" ? "The job failed" : "Cannot follow this job"}</strong>
          <p>{state.error ?? "The job failed."}</p>
        </div>
      ) : null}
      {job && ((!isFinalStatus(status) && onCancel) || (isRetryable(status) && onRetry)) ? (
        <div className={`${block}__actions`}>
          {!isFinalStatus(status) && onCancel ? (
            <button type="button" className={`${block}__cancel`} onClick={() => onCancel(job)}>
              Cancel
            </button>
          ) : null}
          {isRetryable(status) && onRetry ? (
            <button type="button" className={`${block}__retry`} onClick={() => onRetry(job)}>
              Retry
            </button>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}

function isRetryable(status: string | null): boolean {
  return status === "failed" || status === "cancelled";
}

export interface JobProgressCompactProps extends JobProgressSource {
  /** Names the bar for screen readers; default: the job type's name. */
  label?: string;
  className?: string;
}

/** The compact form for table rows: status, a thin bar, the percentage; message as tooltip. */
export function JobProgressCompact({
  label,
  className,
  ...source
}: JobProgressCompactProps): ReactElement {
  const state = useSource(source);
  const block = "lf-job-progress-compact";
  const { status } = state;
  const statusLabel = status ? STATUS_LABELS[status] : "Loading";
  const value = percentOf(state);
  const text = state.error ?? state.message ?? statusLabel ?? "";
  return (
    <span
      className={classes(block, `${block}--${status ?? "loading"}`, className)}
      data-status={status ?? "loading"}
      title={text}
    >
      <span className={`${block}__status`}>{statusLabel}</span>
      <Bar
        block={block}
        value={value}
        text={text}
        busy={state.isPolling}
        label={`${label ?? jobTitle(state.job)}: ${statusLabel}`}
      />
      <span className={`${block}__percent`}>{value}%</span>
      <span className="lf-visually-hidden" aria-live="polite">
        {text}
      </span>
    </span>
  );
}

export interface JobProgressModalProps extends JobProgressProps {
  open: boolean;
  /** Escape, a click on the backdrop, and the "Continue in background" / "Close" button. */
  onClose: () => void;
}

const FOCUSABLE = "button, a[href], input, select, textarea, summary, [tabindex]:not([tabindex='-1'])";

/**
 * A modal dialog holding the card. Focus moves into it, stays there (Tab wraps) and goes back
 * to where it was on close. Closing does not stop the job: the button says "Continue in
 * background" until the job ends, then "Close".
 */
export function JobProgressModal({
  open,
  onClose,
  className,
  jobId,
  state: given,
  ...rest
}: JobProgressModalProps): ReactElement | null {
  const own = useJobStatus(given || !open ? null : jobId, rest);
  const state = given ?? own;
  const titleId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const block = "lf-job-progress-modal";

  useEffect(() => {
    if (!open) return undefined;
    const opener = document.activeElement as HTMLElement | null;
    button.current?.focus();
    return () => {
      if (opener?.isConnected && typeof opener.focus === "function") opener.focus();
    };
  }, [open]);

  if (!open) return null;

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>): void => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onClose();
    } else if (event.key === "Tab" && dialog.current) {
      const focusable = [...dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
        (el) => !el.hasAttribute("disabled"),
      );
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (!first || !last) return;
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  };

  return (
    <div
      className={classes(`${block}__backdrop`, className)}
      onMouseDown={(event) => {
        if (event.target === event.currentTarget) onClose();
      }}
    >
      <div
        ref={dialog}
        className={block}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <JobProgress {...rest} state={state} titleId={titleId} headingLevel={2} />
        <div className={`${block}__foot`}>
          <button ref={button} type="button" className={`${block}__close`} onClick={onClose}>
            {isFinalStatus(state.status) ? "Close" : "Continue in background"}
          </button>
        </div>
      </div>
    </div>
  );
}
