// One watch per job for the whole page, shared by everything that shows that job (a card and
// a history row, say), so a job never costs two streams.

import { isFinal, watchJob } from "./jobStatus.js";

export class JobTracker {
  constructor({ transport = "auto" } = {}) {
    this.transport = transport;
    this.watches = new Map(); // job id -> watch handle
    this.listeners = new Map(); // job id -> Set(listener)
    this.latest = new Map(); // job id -> job JSON
    this.finishedListeners = new Set();
    this.elements = new Map(); // listener -> element it belongs to
    this.sweeper = null;
  }

  startSweep() {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      for (const [id, set] of [...this.listeners]) {
        for (const listener of [...set]) {
          const element = this.elements.get(listener);
          if (element && !element.isConnected) this.unfollow(id, listener);
        }
      }
    }, 500);
  }

  /**
   * Call ``listener(job, error?)`` with every new state of ``job`` until it ends. With
   * ``element``, the listener goes away once that element leaves the document (and the watch
   * stops when nobody listens any more).
   */
  follow(job, listener, { element = null } = {}) {
    if (element) {
      this.elements.set(listener, element);
      this.startSweep();
    }
    const id = job.id;
    if (!this.latest.has(id) || rank(job) >= rank(this.latest.get(id))) this.latest.set(id, job);
    if (!this.listeners.has(id)) this.listeners.set(id, new Set());
    this.listeners.get(id).add(listener);
    const current = this.latest.get(id);
    if (!isFinal(current.status) && !this.watches.has(id)) {
      const watch = watchJob(id, {
        transport: this.transport,
        onProgress: (j) => this.publish(j),
        onComplete: () => this.finished(id),
        onCancelled: () => this.finished(id),
        onError: (error) => {
          if (error.job) this.finished(id);
          else this.publish(this.latest.get(id), error);
        },
      });
      this.watches.set(id, watch);
    }
    return () => this.unfollow(id, listener);
  }

  unfollow(id, listener) {
    const set = this.listeners.get(id);
    if (!set) return;
    set.delete(listener);
    this.elements.delete(listener);
    if (set.size === 0) {
      this.listeners.delete(id);
      const watch = this.watches.get(id);
      if (watch) watch.stop();
      this.watches.delete(id);
    }
  }

  /** ``listener(job)`` whenever any followed job ends. */
  onFinished(listener) {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  /** A new state of a job, from its watch or from elsewhere (the answer to a cancel, say). */
  publish(job, error = null) {
    this.latest.set(job.id, job);
    for (const listener of [...(this.listeners.get(job.id) || [])]) {
      try {
        listener(job, error);
      } catch (err) {
        console.error(err);
      }
    }
    const watch = this.watches.get(job.id);
    if (watch && isFinal(job.status)) {
      watch.stop();
      this.finished(job.id);
    }
  }

  finished(id) {
    this.watches.delete(id);
    const job = this.latest.get(id);
    for (const listener of [...this.finishedListeners]) listener(job);
  }

  get(id) {
    return this.latest.get(id);
  }

  stop() {
    clearInterval(this.sweeper);
    this.sweeper = null;
    this.elements.clear();
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
    this.listeners.clear();
    this.finishedListeners.clear();
  }
}

const ORDER = { pending: 0, running: 1, complete: 2, failed: 2, cancelled: 2 };
function rank(job) {
  return ORDER[job.status] ?? 0;
}
