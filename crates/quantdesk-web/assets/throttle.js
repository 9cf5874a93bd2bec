// Requests of a chart layer that follows the replay cursor and the settings: one request in
// flight, at most one every `minGap` ms (a replay playing at 10× moves the cursor every 100 ms;
// the round after the one in flight takes the latest state), and after a 429 (or a busy 503) not
// before the server's Retry-After. What is drawn stays until newer data comes.

/** An Error for a failed answer, with its status and Retry-After (seconds). */
export async function answerError(res, what) {
  const body = await res.json().catch(() => null);
  const e = new Error((body && body.error && body.error.message) || `${what} ${res.status}`);
  e.status = res.status;
  e.retryAfter = Number(res.headers.get('retry-after')) || 1;
  return e;
}

/**
 * `schedule(round, again)` runs `round(signal)` once the gap allows. A call while a round is in
 * flight makes `again()` run once it ends (the caller then schedules the latest state). `round`
 * may throw: an abort is ignored, a 429/503 waits for Retry-After and calls `again()`, anything
 * else goes to `onError(e)`.
 */
export function throttle({ minGap = 300, onError = () => {} } = {}) {
  let inFlight = false, pending = null, lastRound = -Infinity, notBefore = 0, timer = null, abort = null;
  return {
    schedule(round, again) {
      clearTimeout(timer);
      if (inFlight) { pending = again; return; }
      // a short pause lets a burst of changes end in one request
      const now = performance.now();
      const wait = Math.max(60, lastRound + minGap - now, notBefore - now);
      timer = setTimeout(async () => {
        inFlight = true;
        lastRound = performance.now();
        abort = new AbortController();
        try {
          await round(abort.signal);
        } catch (e) {
          if (e.name === 'AbortError') return;
          if (e.status === 429 || e.status === 503) {
            notBefore = performance.now() + e.retryAfter * 1000;
            pending = again;
          } else onError(e);
        } finally {
          inFlight = false;
          abort = null;
          if (pending) { const f = pending; pending = null; f(); }
        }
      }, wait);
    },
    /** Drops the scheduled round (when nothing is to be fetched any more). */
    idle() { clearTimeout(timer); pending = null; },
    /** Drops the scheduled round and aborts the one in flight. */
    cancel() { clearTimeout(timer); pending = null; if (abort) abort.abort(); },
  };
}
