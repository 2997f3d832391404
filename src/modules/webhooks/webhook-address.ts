import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where webhooks may be sent. A webhook URL is chosen by a hub or a producer, and the server POSTs
 * to it and shows them the answer's status: without these checks they could make it call
 * loopback, the database, cloud metadata (169.254.169.254) or any service on the private network,
 * and read what answered (SSRF).
 */

/** Resolves a host name to every address it has now (the system resolver unless one is injected). */
export type Resolver = (hostname: string, options: { family?: number; hints?: number }) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname, options) =>
  dnsLookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints ?? 0 });

/**
 * Whether an address is anything but public unicast: loopback, private (RFC 1918, fc00::/7),
 * link-local, unspecified, CGNAT, multicast, broadcast, documentation and reserved ranges, IPv6
 * forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo), and IPv6 outside 2000::/3.
 * Anything ipaddr.js does not classify as plain unicast is refused: a list of what to allow
 * cannot miss a range the way a list of what to refuse can.
 */
export function isPrivateAddress(address: string): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns an IPv4-mapped IPv6 address (::ffff:127.0.0.1) into the IPv4 address it is.
    ip = ipaddr.process(address);
  } catch {
    return true; // not an address we understand: never one to connect to
  }
  if (ip.range() !== 'unicast') return true;
  return ip.kind() === 'ipv6' && !ip.match(GLOBAL_UNICAST_V6);
}

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** Names that always mean this machine (RFC 6761 `localhost` and the usual /etc/hosts aliases). */
function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === 'localhost.localdomain' ||
    name === 'ip6-localhost' ||
    name === 'ip6-loopback'
  );
}

/** The host of a URL as the resolver and the socket take it: IPv6 literals without their brackets. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export interface WebhookAddressPolicy {
  /** WEBHOOK_ALLOW_PRIVATE_ADDRESSES: the operator lets webhooks reach this machine and its network. */
  allowPrivateAddresses: boolean;
  /** Production: receivers must use TLS, except private ones the operator allowed. */
  requireHttps: boolean;
}

/**
 * Why a webhook may not be registered with this URL, or undefined when it may. Only what the URL
 * itself says is checked here: a name is resolved, and its addresses checked, on each delivery.
 */
export function webhookUrlProblem(url: URL, policy: WebhookAddressPolicy): string | undefined {
  const host = bareHost(url);
  const localName = isLocalName(host);
  const local = localName || (isIP(host) !== 0 && isPrivateAddress(host));
  if (local && !policy.allowPrivateAddresses) {
    const what = localName ? 'names this server' : 'is a loopback, private, link-local or reserved address';
    return `must not point at this server or a private network: ${url.hostname} ${what}`;
  }
  if (policy.requireHttps && url.protocol !== 'https:' && !local) return 'must be an https:// URL';
  return undefined;
}

/** The text of an attempt refused because the receiver's address is private. */
export class PrivateAddressRefused extends Error {
  readonly code = 'EWEBHOOKPRIVATEADDRESS';
  constructor(host: string, literal: boolean) {
    super(literal ? `refused: ${host} is a private address` : `refused: ${host} resolves to a private address`);
    this.name = 'PrivateAddressRefused';
  }
}

/**
 * A `lookup` for net.connect / http.request that resolves with `resolve` and, unless private
 * addresses are allowed, fails the connection when any address of the name is private. The socket
 * connects to the addresses checked here, so a name that resolves to a public address at one
 * moment and to 127.0.0.1 the next (DNS rebinding) is caught on the lookup the connection itself
 * uses. (IP literals are never looked up: see `literalRefusal`.)
 */
export function webhookLookup(resolve: Resolver, allowPrivateAddresses: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { family: typeof options.family === 'number' ? options.family : undefined, hints: options.hints }).then(
      (addresses) => {
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (!allowPrivateAddresses && addresses.some((a) => isPrivateAddress(a.address))) {
          callback(new PrivateAddressRefused(hostname, false), '', 0);
        } else if (options.all) {
          callback(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** The refusal for a URL whose host is a private IP literal, which no lookup would see. */
export function literalRefusal(url: URL): PrivateAddressRefused | undefined {
  const host = bareHost(url);
  return isIP(host) !== 0 && isPrivateAddress(host) ? new PrivateAddressRefused(host, true) : undefined;
}
