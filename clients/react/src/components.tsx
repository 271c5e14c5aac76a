import { useEffect, useId, useRef, type ReactElement, type ReactNode } from "react";

import { isFinalStatus, type Job } from "./types";
import { useJobStatus, type JobStatusState, type UseJobStatusOptions } from "./useJobStatus";

/**
 * The three forms of job progress the web page uses. They carry class names but no styles
 * (import `@ledgerflow/react/styles.css` for a plain look, or style the classes yourself).
 * Each either follows `jobId` itself (with the `useJobStatus` options) or shows a `state` you
 * already have from `useJobStatus`.
 */
export interface JobProgressSource extends UseJobStatusOptions {
  /** The job to follow; ignored when `state` is given. */
  jobId?: string | null;
  /** A state from your own `useJobStatus` call: nothing is polled then. */
  state?: JobStatusState;
}

export interface JobProgressProps extends JobProgressSource {
  /** What the job does, e.g. "Importing chase.csv"; also the progress bar's accessible name. */
  label?: ReactNode;
  className?: string;
  /** Shown once the job is complete. */
  renderResult?: (result: unknown, job: Job) => ReactNode;
}

const STATUS_TEXT: Record<string, string> = {
  pending: "Waiting to start…",
  running: "Working…",
  complete: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

function useSource({ jobId, state, ...options }: JobProgressSource): JobStatusState {
  const own = useJobStatus(state ? null : jobId, options);
  return state ?? own;
}

function classes(...names: (string | false | null | undefined)[]): string {
  return names.filter(Boolean).join(" ");
}

function statusText(state: JobStatusState): string {
  return state.status ? (STATUS_TEXT[state.status] ?? state.status) : "Loading…";
}

interface BarProps {
  block: string;
  state: JobStatusState;
  labelId?: string;
  label?: string;
}

function Bar({ block, state, labelId, label }: BarProps): ReactElement {
  const { progress, message } = state;
  return (
    <div
      className={`${block}__bar`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={progress}
      aria-valuetext={message ? `${progress}%: ${message}` : `${progress}%`}
      aria-labelledby={labelId}
      aria-label={labelId ? undefined : label}
      aria-busy={state.isPolling}
    >
      <div className={`${block}__fill`} style={{ width: `${progress}%` }} />
    </div>
  );
}

/** The full form: label, bar, percentage, live message, error, and the result when done. */
export function JobProgress({
  label,
  className,
  renderResult,
  ...source
}: JobProgressProps): ReactElement {
  const state = useSource(source);
  const labelId = useId();
  const block = "lf-job-progress";
  const status = state.status ?? "loading";
  return (
    <div className={classes(block, `${block}--${status}`, className)} data-status={status}>
      <div className={`${block}__header`}>
        <span className={`${block}__label`} id={labelId}>
          {label ?? "Job progress"}
        </span>
        <span className={`${block}__percent`}>{state.progress}%</span>
      </div>
      <Bar block={block} state={state} labelId={labelId} />
      <p className={`${block}__message`} aria-live="polite">
        {state.message ?? statusText(state)}
      </p>
      {state.error ? (
        <p className={`${block}__error`} role="alert">
          {state.error}
        </p>
      ) : null}
      {state.status === "complete" && renderResult && state.job ? (
        <div className={`${block}__result`}>{renderResult(state.result, state.job)}</div>
      ) : null}
    </div>
  );
}

export interface JobProgressCompactProps extends JobProgressSource {
  /** Accessible name of the bar; default "Job progress". */
  label?: string;
  className?: string;
}

/** One line for tables and toolbars: a small bar and the percentage; message as a tooltip. */
export function JobProgressCompact({
  label = "Job progress",
  className,
  ...source
}: JobProgressCompactProps): ReactElement {
  const state = useSource(source);
  const block = "lf-job-progress-compact";
  const status = state.status ?? "loading";
  const text = state.error ?? state.message ?? statusText(state);
  return (
    <span
      className={classes(block, `${block}--${status}`, className)}
      data-status={status}
      title={text}
    >
      <Bar block={block} state={state} label={label} />
      <span className={`${block}__percent`}>{state.progress}%</span>
      <span className="lf-visually-hidden" aria-live="polite">
        {text}
      </span>
    </span>
  );
}

export interface JobProgressModalProps extends JobProgressProps {
  open: boolean;
  /** Called by the close button and Escape; without it the dialog has no close button. */
  onClose?: () => void;
  title?: ReactNode;
}

/** A modal dialog around `JobProgress`; it keeps following the job while open. */
export function JobProgressModal({
  open,
  onClose,
  title = "Working…",
  className,
  jobId,
  state: given,
  ...rest
}: JobProgressModalProps): ReactElement | null {
  const own = useJobStatus(given || !open ? null : jobId, rest);
  const state = given ?? own;
  const titleId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const block = "lf-job-progress-modal";

  useEffect(() => {
    if (open) dialog.current?.focus();
  }, [open]);

  if (!open) return null;
  const final = isFinalStatus(state.status);
  return (
    <div className={classes(block, className)}>
      <div className={`${block}__backdrop`} aria-hidden="true" onClick={onClose} />
      <div
        ref={dialog}
        className={`${block}__dialog`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        onKeyDown={(event) => {
          if (event.key === "Escape" && onClose) {
            event.stopPropagation();
            onClose();
          }
        }}
      >
        <h2 className={`${block}__title`} id={titleId}>
          {title}
        </h2>
        <JobProgress {...rest} state={state} />
        {onClose ? (
          <button type="button" className={`${block}__close`} onClick={onClose}>
            {final ? "Close" : "Hide"}
          </button>
        ) : null}
      </div>
    </div>
  );
}
