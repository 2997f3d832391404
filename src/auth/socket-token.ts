import { KeysUnavailableError, type TokenVerifier } from './tokens.js';

/**
 * The longest between two checks of a socket's token: with a fresh answer's 25 s (tokens.ts), a
 * key taken out of JWKS_URL stops serving the socket within 50 s. Each check comes a random 20 to
 * 25 s after the last ended, so that sockets that connected together (after a restart, say) are
 * not all checked in the same instant ever after.
 */
const RECHECK_EVERY_MS = 25_000;
const RECHECK_SPREAD_MS = 5_000;
/** After a check that could not tell (the keys could not be fetched): soon again, not a period later. */
const RECHECK_AFTER_OUTAGE_MS = 5_000;
/** How long after a check starts the socket's events wait for it: a provider that hangs must not hold up the stream. */
const WAIT_FOR_CHECK_MS = 200;

/**
 * A socket's token, checked again while the socket lives: checked on connect only, a socket opened
 * with a token whose key was since taken out of JWKS_URL (one that leaked) would be served until
 * the token's own expiry, which whoever holds the key chose. Every 25 s at most, by a timer (a
 * socket sent nothing is closed too) or by the first event after that long, the token is
 * verified afresh (`fresh`: not from a verification remembered for longer than a few seconds);
 * one that no longer verifies closes the socket (`onInvalid`). The events of the check's first
 * moments wait for it, so the event that set it off is not sent, nor its copies to the socket's
 * other subscriptions; later ones do not: a provider that hangs costs the stream one short wait,
 * not one per event. While the keys cannot be fetched it cannot tell: the socket goes on, as it
 * verified, and is checked again a few seconds later.
 */
export class SocketTokenCheck {
  private checkedAt = Date.now();
  private running: { done: Promise<void>; waitUntil: number } | undefined;
  private invalid = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly verify: TokenVerifier,
    private readonly authorization: string,
    private readonly onInvalid: () => void,
  ) {
    this.schedule(RECHECK_EVERY_MS - Math.random() * RECHECK_SPREAD_MS);
  }

  /** Whether the socket may be sent its next event: not once its token no longer verifies. */
  async allows(): Promise<boolean> {
    if (Date.now() - this.checkedAt >= RECHECK_EVERY_MS) this.start();
    const left = this.running ? this.running.waitUntil - Date.now() : 0;
    if (this.running && left > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running.done, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    return !this.invalid;
  }

  /** The socket closed: no more checks. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The next check, `afterMs` from now (each check, however it was set off, sets the next when it ends). */
  private schedule(afterMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.start(), afterMs);
    this.timer.unref();
  }

  private start(): void {
    if (this.running || this.invalid) return;
    this.running = { done: this.check(), waitUntil: Date.now() + WAIT_FOR_CHECK_MS };
  }

  private async check(): Promise<void> {
    let next = RECHECK_EVERY_MS - Math.random() * RECHECK_SPREAD_MS;
    try {
      await this.verify(this.authorization, { fresh: true });
      this.checkedAt = Date.now();
    } catch (error) {
      if (!(error instanceof KeysUnavailableError)) {
        this.invalid = true;
        this.stop();
        this.onInvalid();
      }
      // Could not tell (or closed): the next check, by timer or by event, a few seconds on.
      next = RECHECK_AFTER_OUTAGE_MS;
      this.checkedAt = Date.now() - RECHECK_EVERY_MS + RECHECK_AFTER_OUTAGE_MS;
    } finally {
      this.running = undefined;
      this.schedule(next);
    }
  }
}
