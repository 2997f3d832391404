/**
 * The source of "now" for every rule that depends on time (session status, hold expiry, the
 * scheduler). Production uses the system clock; tests inject one they can move.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
