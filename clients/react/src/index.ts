export type { components, operations, paths } from "./api-types";
export {
  JobProgress,
  JobProgressCompact,
  JobProgressModal,
  type JobProgressCompactProps,
  type JobProgressModalProps,
  type JobProgressProps,
  type JobProgressSource,
} from "./components";
export { DEFAULT_SCHEDULE, pollDelay, type PollSchedule } from "./schedule";
export {
  FINAL_STATUSES,
  isFinalStatus,
  type Job,
  type JobAccepted,
  type JobList,
  type JobStatus,
} from "./types";
export {
  DEFAULT_MAX_CONSECUTIVE_ERRORS,
  JobStatusError,
  useJobStatus,
  type JobErrorKind,
  type JobStatusState,
  type UseJobStatusOptions,
} from "./useJobStatus";
