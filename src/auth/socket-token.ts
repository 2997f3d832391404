import { KeysUnavailableError, type TokenVerifier } from './tokens.js';

/** How long a socket's token stands, once checked, before its next event checks it again (as long as a verified token is remembered). */
const RECHECK_AFTER_MS = 30_000;
/** How long an event waits for the check it set off: a provider that hangs must not hold up the stream. */
const WAIT_FOR_CHECK_MS = 200;

/**
 * A socket's token, checked again while the socket lives: checked on connect only, a socket opened
 * with a token whose key was since taken out of JWKS_URL (one that leaked) would be served until
 * the token's own expiry, which whoever holds the key chose. The first event half a minute after
 * the last check sets off the next, and waits for it a moment: a token that no longer verifies
 * closes the socket (`onInvalid`) and that event is not sent. The events meanwhile do not wait: a
 * provider that hangs costs the stream one short wait, not one per event. While the keys cannot be
 * fetched it cannot tell: the socket goes on, as it verified, and is checked again later.
 */
export class SocketTokenCheck {
  private checkedAt = Date.now();
  private running: Promise<void> | undefined;
  private invalid = false;

  constructor(
    private readonly verify: TokenVerifier,
    private readonly authorization: string,
    private readonly onInvalid: () => void,
  ) {}

  /** Whether the socket may be sent its next event: not once its token no longer verifies. */
  async allows(): Promise<boolean> {
    if (!this.invalid && !this.running && Date.now() - this.checkedAt >= RECHECK_AFTER_MS) {
      const check = (this.running = this.check());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([check, new Promise((resolve) => (timer = setTimeout(resolve, WAIT_FOR_CHECK_MS)))]);
      clearTimeout(timer);
    }
    return !this.invalid;
  }

  private async check(): Promise<void> {
    try {
      await this.verify(this.authorization);
    } catch (error) {
      if (!(error instanceof KeysUnavailableError)) {
        this.invalid = true;
        this.onInvalid();
      }
    } finally {
      this.checkedAt = Date.now();
      this.running = undefined;
    }
  }
}
