export type { components, operations, paths } from "./api-types.js";
export {
  JOB_TYPES,
  JobProgress,
  JobProgressCompact,
  JobProgressModal,
  STATUS_LABELS,
  jobTitle,
  statusText,
  type JobProgressCompactProps,
  type JobProgressModalProps,
  type JobProgressProps,
  type JobProgressSource,
} from "./components.js";
export { DEFAULT_SCHEDULE, pollDelay, type PollSchedule } from "./schedule.js";
export {
  FINAL_STATUSES,
  isFinalStatus,
  type Job,
  type JobAccepted,
  type JobList,
  type JobStatus,
} from "./types.js";
export {
  DEFAULT_MAX_CONSECUTIVE_ERRORS,
  JobStatusError,
  useJobStatus,
  type JobErrorKind,
  type JobStatusState,
  type UseJobStatusOptions,
} from "./useJobStatus.js";
