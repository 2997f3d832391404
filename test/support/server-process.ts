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

/** The pids of the processes that logged "GraphQL API ready", in order. */
export function readyPids(output: string): number[] {
  return [...output.matchAll(/"pid":(\d+)[^\n]*"msg":"GraphQL API ready"/g)].map((m) => Number(m[1]));
}

/** `npm run token -- --role admin`, as an operator would run it; the token is the last line. */
export function mintToken(dataDir: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/token.ts', '--role', 'admin'], {
    env: { ...process.env, DATA_DIR: dataDir, JWT_SECRET: '', NODE_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(stdout.trim().split('\n').at(-1)!) : reject(new Error(`token exited ${code}`)))),
  );
}
