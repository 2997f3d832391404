const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a record, so it is "not found" without asking the database. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * An id as PostgreSQL writes it: a UUID in lower case, however the client spelt it, so that ids
 * compare, hash and key idempotent retries the same everywhere. Anything else is left as it is,
 * for the service to answer "not found".
 */
export function canonicalId(value: string): string {
  return isUuid(value) ? value.toLowerCase() : value;
}
