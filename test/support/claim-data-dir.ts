// A process that claims an embedded PostgreSQL's data directory, as a server does before starting
// it: loaded, it says `ready` and waits for a line on stdin, so that several claim at one moment;
// then it prints what it got, and keeps it until its stdin closes.
import { claimDataDir } from '../../src/db/data-dir-claim.js';

process.stdout.write('ready\n');
process.stdin.once('data', async () => {
  // No PostgreSQL runs on it here: what a claim finds is the other claims.
  const claim = await claimDataDir(process.argv[2]!, () => false);
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...claim })}\n`);
});
process.stdin.once('end', () => process.exit(0));
