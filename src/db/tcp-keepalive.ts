/**
 * TCP keepalive on every connection to PostgreSQL. Without it a connection whose peer vanished
 * (a managed database failing over, a NAT or load balancer forgetting an idle flow) is noticed
 * only when the server next writes to it: a LISTEN connection would wait for notifications that
 * never come, and a statement whose answer was lost would hold its connection for ever. The first
 * probe goes after 10 s idle; the interval and count between probes stay the operating system's.
 */
export const TCP_KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;
