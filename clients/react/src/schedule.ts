/**
 * The polling schedule shared with the Python client: `initialInterval` for `pollsPerStep`
 * polls, then each step `backoff` times longer, never more than `maxInterval`.
 * With the defaults: 1 s ×5, 1.5 s ×5, 2.25 s ×5, 3.375 s ×5, then 5 s.
 */
export interface PollSchedule {
  /** Milliseconds before the second poll (the first one is immediate). */
  initialInterval: number;
  /** Factor by which the interval grows every `pollsPerStep` polls. */
  backoff: number;
  /** Polls at each interval before it grows. */
  pollsPerStep: number;
  /** Upper bound on the interval, in milliseconds. */
  maxInterval: number;
}

export const DEFAULT_SCHEDULE: PollSchedule = {
  initialInterval: 1000,
  backoff: 1.5,
  pollsPerStep: 5,
  maxInterval: 5000,
};

/** Milliseconds to wait after poll number `index` (0-based) before the next one. */
export function pollDelay(index: number, schedule: PollSchedule = DEFAULT_SCHEDULE): number {
  const step = Math.floor(index / Math.max(1, schedule.pollsPerStep));
  return Math.min(schedule.initialInterval * schedule.backoff ** step, schedule.maxInterval);
}
