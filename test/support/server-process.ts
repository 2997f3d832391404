import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait.js';

/** The real entry point (src/main.ts) in its own process, as an operator runs it. */
export interface ServerProcess {
  child: ChildProcess;
  /** The GraphQL URL it logged when ready. */
  url: string;
  output(): string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string | null>;
}

/** processGroup: run it as the leader of a process group of its own, as a shell runs a command, to signal the group. */
export async function spawnServer(env: Record<string, string>, { processGroup = false }: { processGroup?: boolean } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let ended = false;
  void exited.then(() => (ended = true));
  const url = await waitFor('the server to be ready', async () => {
    if (ended) throw new Error(`server exited before it was ready:\n${output}`);
    return /"url":"(http:\/\/localhost:\d+\/graphql)"/.exec(output)?.[1];
  }, 60_000);
  return { child, url, output: () => output, exited };
}
