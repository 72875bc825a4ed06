// The self-contained PostgreSQL 18 client bundle built by scripts/build-pgtools.sh (npm run pgtools):
// it must run with an empty environment, use none of the host's libraries, survive being copied elsewhere,
// and describe itself in bundle.json.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  chownSync,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const TOOLS = ['pg_dump', 'pg_restore', 'pg_dumpall', 'psql'] as const;
type Tool = (typeof TOOLS)[number];

const repoRoot = resolve(import.meta.dirname, '..', '..');
// PGTOOLS_BUNDLE_BASE: a bundle built elsewhere (scripts/build-pgtools.sh --out DIR).
const bundleBase = resolve(process.env.PGTOOLS_BUNDLE_BASE ?? join(repoRoot, '.cache', 'pgtools'));
const hostArch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : undefined;
const EM_X86_64 = 0x3e;
const EM_AARCH64 = 0xb7;

type BundleJson = {
  pgMajor: number;
  pgVersion: string;
  arch: string;
  debianArch: string;
  suite: string;
  builtAt: string;
  packages: { name: string; version: string }[];
  files: Record<string, number>;
};

function readBundleJson(dir: string): BundleJson {
  return JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as BundleJson;
}

function hostBundleDir(): string {
  assert.ok(hostArch, `no bundle for host architecture ${process.arch}`);
  const dir = join(bundleBase, `linux-${hostArch}`);
  assert.ok(existsSync(join(dir, 'bundle.json')), `${dir} has no bundle.json: run npm run pgtools`);
  return realpathSync(dir);
}

/** Runs a bundled tool with exactly `env` as its environment (default: empty, like env -i). */
function runTool(dir: string, tool: Tool, args: string[], env: Record<string, string> = {}) {
  return spawnSync(join(dir, 'bin', tool), args, { env, encoding: 'utf8', timeout: 30_000 });
}

function elfMachine(file: string): { class64: boolean; littleEndian: boolean; machine: number } {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    assert.equal(readSync(fd, header, 0, 20, 0), 20, `${file} is too short to be ELF`);
    assert.deepEqual([...header.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${file} is not ELF`);
    const littleEndian = header[5] === 1;
    return {
      class64: header[4] === 2,
      littleEndian,
      machine: littleEndian ? header.readUInt16LE(18) : header.readUInt16BE(18),
    };
  } finally {
    closeSync(fd);
  }
}

function elfFiles(dir: string): string[] {
  const libexec = TOOLS.map((tool) => join(dir, 'libexec', tool));
  const libs = readdirSync(join(dir, 'lib')).map((name) => join(dir, 'lib', name));
  return [...libexec, ...libs];
}

/** File-backed mappings of a process: the pathname column of /proc/<pid>/maps, without [vdso] & co. */
function mappedFiles(pid: number): string[] {
  const files = new Set<string>();
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const path = fields.slice(5).join(' ');
    if (path.startsWith('/')) files.add(path);
  }
  return [...files].sort();
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** A TCP server that accepts connections and never answers: a client connecting to it stays alive. */
async function silentServer(): Promise<{ server: Server; port: number; connected: Promise<void>; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  let onConnect: () => void = () => {};
  const connected = new Promise<void>((done) => (onConnect = done));
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onConnect();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { server, port: address.port, connected, sockets };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (text += chunk));
  return () => text;
}

/**
 * Starts `tool` from the bundle so that it blocks after its libraries are loaded, and returns the files
 * mapped into it. pg_dump, pg_dumpall and psql block on a server that never answers; pg_restore blocks
 * reading an archive from a pipe that stays open.
 */
async function mappingsOfRunningTool(dir: string, tool: Tool, env: Record<string, string> = {}): Promise<string[]> {
  const silent = tool === 'pg_restore' ? undefined : await silentServer();
  const args =
    tool === 'pg_restore'
      ? ['-l']
      : ['-h', '127.0.0.1', '-p', String(silent?.port), '-U', 'nobody', ...(tool === 'pg_dumpall' ? ['-g'] : ['-d', 'nobody'])];
  const child = spawn(join(dir, 'bin', tool), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = stderrOf(child);
  const exited = new Promise<string>((done) => child.on('exit', (code, signal) => done(`exited (${code ?? signal})`)));
  try {
    const pid = child.pid;
    assert.ok(pid, `${tool} did not start`);
    const ownBinary = join(dir, 'libexec', tool);
    if (silent) {
      const outcome = await withTimeout(
        Promise.race([silent.connected.then(() => 'connected'), exited]),
        20_000,
        `${tool} connecting to the silent server`,
      );
      assert.equal(outcome, 'connected', `${tool} ${outcome} before connecting: ${stderr()}`);
    } else {
      // Blocked in read() on stdin: sleeping, with its own binary mapped (i.e. past the wrapper's exec).
      const deadline = Date.now() + 20_000;
      for (;;) {
        assert.ok(Date.now() < deadline, `${tool} did not block on stdin: ${stderr()}`);
        assert.equal(child.exitCode, null, `${tool} exited early: ${stderr()}`);
        if (processState(pid) === 'S' && mappedFiles(pid).includes(ownBinary)) {
          await sleep(100);
          if (processState(pid) === 'S') break;
        }
        await sleep(50);
      }
    }
    const files = mappedFiles(pid);
    // Guard against reading the maps of the wrapper shell instead of the tool.
    assert.ok(files.includes(ownBinary), `${ownBinary} is not mapped into pid ${pid}:\n${files.join('\n')}`);
    return files;
  } finally {
    child.kill('SIGKILL');
    await exited;
    if (silent) {
      for (const socket of silent.sockets) socket.destroy();
      await new Promise<void>((done) => silent.server.close(() => done()));
    }
  }
}

function assertOnlyBundleFiles(dir: string, tool: Tool, files: string[]): void {
  const outside = files.filter((file) => !file.startsWith(`${dir}/`));
  assert.deepEqual(outside, [], `${tool} maps files from outside ${dir}`);
  const loader = readdirSync(join(dir, 'lib')).find((name) => name.startsWith('ld-linux'));
  assert.ok(loader, `no loader in ${dir}/lib`);
  for (const expected of [`lib/${loader}`, 'lib/libc.so.6', 'lib/libpq.so.5', 'lib/libssl.so.3']) {
    assert.ok(files.includes(join(dir, expected)), `${tool} does not map ${expected}:\n${files.join('\n')}`);
  }
}

/** A shared library of the host (mapped into this Node process), to prove LD_PRELOAD has no effect. */
function hostLibrary(): string {
  const lib = mappedFiles(process.pid).find((file) => /\/lib[^/]*\.so(\.\d+)*$/.test(file) && !file.startsWith(bundleBase));
  assert.ok(lib, 'no host shared library mapped into the test process');
  return lib;
}

describe('pgtools bundle (host architecture)', () => {
  let dir = '';
  let bundle: BundleJson;
  before(() => {
    dir = hostBundleDir();
    bundle = readBundleJson(dir);
  });

  test('every tool reports PostgreSQL 18 under an empty environment', () => {
    for (const tool of TOOLS) {
      const result = runTool(dir, tool, ['--version']);
      assert.equal(result.status, 0, `${tool} --version failed: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^${tool} \\(PostgreSQL\\) 18\\.\\d+`));
      assert.ok(result.stdout.startsWith(`${tool} (PostgreSQL) ${bundle.pgVersion}`), result.stdout);
    }
  });

  test('bundle.json describes the bundle', () => {
    assert.equal(bundle.pgMajor, 18);
    assert.match(bundle.pgVersion, /^18\.\d+/);
    assert.equal(bundle.arch, hostArch);
    assert.equal(bundle.debianArch, hostArch === 'x64' ? 'amd64' : 'arm64');
    assert.ok(bundle.suite.length > 0, 'suite is empty');
    assert.ok(!Number.isNaN(Date.parse(bundle.builtAt)), `builtAt ${bundle.builtAt}`);
    const versions = new Map(bundle.packages.map((pkg) => [pkg.name, pkg.version]));
    for (const name of ['postgresql-client-18', 'libpq5', 'libc6']) {
      assert.match(versions.get(name) ?? '', /^(\d+:)?\d[\w.+~:-]*$/, `${name} has no version in bundle.json`);
    }
    assert.ok(versions.get('postgresql-client-18')?.startsWith(`${bundle.pgVersion}-`));
    for (const tool of TOOLS) {
      assert.ok(statSync(join(dir, 'share', 'doc', 'postgresql-client-18', 'copyright')).size > 0);
      assert.equal(bundle.files[`libexec/${tool}`], statSync(join(dir, 'libexec', tool)).size);
    }
    for (const [file, size] of Object.entries(bundle.files)) {
      assert.equal(statSync(join(dir, file)).size, size, `size of ${file}`);
    }
  });

  test('the binaries are ELF for the host machine', () => {
    const expected = hostArch === 'x64' ? EM_X86_64 : EM_AARCH64;
    for (const file of elfFiles(dir)) {
      const elf = elfMachine(file);
      assert.equal(elf.machine, expected, `${file} e_machine`);
      assert.ok(elf.class64 && elf.littleEndian, `${file} is not ELF64 little-endian`);
    }
  });

  for (const tool of TOOLS) {
    test(`a running ${tool} maps no file from outside the bundle`, async () => {
      assertOnlyBundleFiles(dir, tool, await mappingsOfRunningTool(dir, tool));
    });
  }

  test('LD_PRELOAD and LD_LIBRARY_PATH of the caller do not reach the tool', async () => {
    const lib = hostLibrary();
    const env = { LD_PRELOAD: lib, LD_LIBRARY_PATH: lib.slice(0, lib.lastIndexOf('/')) };
    const files = await mappingsOfRunningTool(dir, 'pg_dump', env);
    assertOnlyBundleFiles(dir, 'pg_dump', files);
  });

  test('_STDBUF_O preloads the bundled libstdbuf, still nothing from the host', async () => {
    const files = await mappingsOfRunningTool(dir, 'pg_dump', { _STDBUF_O: '262144' });
    assertOnlyBundleFiles(dir, 'pg_dump', files);
    assert.ok(files.includes(join(dir, 'lib', 'libstdbuf.so')), `libstdbuf.so is not mapped:\n${files.join('\n')}`);
    const without = await mappingsOfRunningTool(dir, 'pg_dump');
    assert.ok(!without.includes(join(dir, 'lib', 'libstdbuf.so')), 'libstdbuf.so is preloaded without _STDBUF_O');
  });

  test('pg_dumpall finds pg_dump next to its wrapper (argv0)', () => {
    // pg_dumpall looks for pg_dump before connecting; a closed port then fails the connection instead.
    const result = runTool(dir, 'pg_dumpall', ['--globals-only', '-h', '127.0.0.1', '-p', '1', '-U', 'nobody']);
    assert.notEqual(result.status, 0);
    assert.doesNotMatch(result.stderr, /"pg_dump" is needed by pg_dumpall/);
    assert.match(result.stderr, /connection to server .* failed/);
  });

  describe('copied to another directory', () => {
    let copy = '';
    let tempRoot = '';
    before(() => {
      tempRoot = realpathSync(mkdtempSync(join(tmpdir(), 'pgtools-copy-')));
      copy = join(tempRoot, 'opt', 'pgtools');
      cpSync(dir, copy, { recursive: true });
    });
    after(() => rmSync(tempRoot, { recursive: true, force: true }));

    test('the wrappers run the copy', () => {
      for (const tool of TOOLS) {
        const result = runTool(copy, tool, ['--version']);
        assert.equal(result.status, 0, `${tool} --version failed in the copy: ${result.stderr}`);
        assert.match(result.stdout, /\(PostgreSQL\) 18\./);
      }
    });

    test('a wrapper called by a relative path from another working directory runs the copy', () => {
      const result = spawnSync('opt/pgtools/bin/pg_dump', ['--version'], { cwd: tempRoot, env: {}, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^pg_dump \(PostgreSQL\) 18\./);
    });

    test('a running tool from the copy maps only files of the copy', async () => {
      assertOnlyBundleFiles(copy, 'psql', await mappingsOfRunningTool(copy, 'psql'));
    });

    test('pg_dumpall in the copy finds the copy’s pg_dump, and fails clearly without it', () => {
      const args = ['--globals-only', '-h', '127.0.0.1', '-p', '1', '-U', 'nobody'];
      const ok = runTool(copy, 'pg_dumpall', args);
      assert.match(ok.stderr, /connection to server .* failed/);
      rmSync(join(copy, 'bin', 'pg_dump'));
      const broken = runTool(copy, 'pg_dumpall', args);
      assert.match(broken.stderr, /"pg_dump" is needed by pg_dumpall but was not found/);
    });
  });

  describe('against a PostgreSQL 18 server', () => {
    const pgBin = join(repoRoot, 'node_modules', 'pg18', 'native', 'bin');
    const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
    const missing = !existsSync(join(pgBin, 'initdb'))
      ? 'embedded PostgreSQL 18 (node_modules/pg18) is not installed'
      : process.getuid?.() === 0 && !runAs
        ? 'running as root without a postgres user (initdb refuses root)'
        : false;
    const { skip, check: requireServer } = requirement(missing);
    let tempRoot = '';
    let started = false;
    const port = 54000 + (process.pid % 1000);

    function server(cmd: string, args: string[]) {
      const argv = runAs ? [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', join(pgBin, cmd), ...args] : args;
      const file = runAs ? 'setpriv' : join(pgBin, cmd);
      const result = spawnSync(file, argv, { encoding: 'utf8', cwd: tempRoot, timeout: 60_000 });
      assert.equal(result.status, 0, `${cmd} failed: ${result.stderr}${result.stdout}`);
    }

    before(() => {
      if (missing) return;
      tempRoot = realpathSync(mkdtempSync(join(tmpdir(), 'pgtools-server-')));
      if (runAs) chownSync(tempRoot, runAs.uid, runAs.gid);
      server('initdb', ['-D', join(tempRoot, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
      server('pg_ctl', [
        '-D',
        join(tempRoot, 'data'),
        '-l',
        join(tempRoot, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${tempRoot} -c listen_addresses=''`,
        'start',
      ]);
      started = true;
    });
    after(() => {
      if (started) server('pg_ctl', ['-D', join(tempRoot, 'data'), '-m', 'immediate', '-w', 'stop']);
      if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
    });

    test('pg_dumpall --globals-only works through the wrapper', { skip }, () => {
      requireServer();
      const result = runTool(dir, 'pg_dumpall', ['--globals-only', '--no-sync', '-h', tempRoot, '-p', String(port), '-U', 'postgres']);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /CREATE ROLE postgres;/);
    });

    test('pg_dump, pg_restore and psql round-trip a table', { skip }, () => {
      requireServer();
      const conn = ['-h', tempRoot, '-p', String(port), '-U', 'postgres'];
      const create = runTool(dir, 'psql', [
        ...conn,
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        'postgres',
        '-c',
        'CREATE DATABASE src',
        '-c',
        'CREATE DATABASE dst',
      ]);
      assert.equal(create.status, 0, create.stderr);
      const fill = runTool(dir, 'psql', [
        ...conn,
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        'src',
        '-c',
        'CREATE TABLE t AS SELECT g AS i, md5(g::text) AS s FROM generate_series(1, 5000) g',
      ]);
      assert.equal(fill.status, 0, fill.stderr);
      const archive = join(tempRoot, 'src.dump');
      const dump = runTool(dir, 'pg_dump', [...conn, '-Fc', '-f', archive, 'src']);
      assert.equal(dump.status, 0, dump.stderr);
      const restore = runTool(dir, 'pg_restore', [...conn, '-d', 'dst', '--exit-on-error', archive]);
      assert.equal(restore.status, 0, restore.stderr);
      const check = runTool(dir, 'psql', [...conn, '-X', '-At', '-d', 'dst', '-c', 'SELECT count(*), sum(i) FROM t']);
      assert.equal(check.status, 0, check.stderr);
      assert.equal(check.stdout.trim(), '5000|12502500');
    });
  });
});

/**
 * A test that needs something this machine may lack: skipped with the reason on a developer machine, but where CI
 * is set a missing requirement fails the test, so a machine set up wrong cannot pass by skipping.
 */
function requirement(unmet: string | false): { skip: string | false; check: () => void } {
  const ci = Boolean(process.env.CI);
  return {
    skip: ci ? false : unmet,
    check: () => {
      if (unmet) assert.fail(`${unmet} (CI is set: a missing requirement fails instead of skipping)`);
    },
  };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

describe('pgtools bundle (arm64)', () => {
  const dir = join(bundleBase, 'linux-arm64');
  const present = existsSync(join(dir, 'bundle.json'));

  const arm64 = requirement(present ? false : `${dir} not built`);
  test('binaries and libraries are AArch64 ELF', { skip: arm64.skip }, () => {
    arm64.check();
    const bundle = readBundleJson(dir);
    assert.equal(bundle.arch, 'arm64');
    assert.equal(bundle.debianArch, 'arm64');
    assert.equal(bundle.pgMajor, 18);
    const files = elfFiles(dir);
    assert.ok(
      files.some((file) => file.endsWith('/lib/ld-linux-aarch64.so.1')),
      'no aarch64 loader',
    );
    for (const file of files) {
      const elf = elfMachine(file);
      assert.equal(elf.machine, EM_AARCH64, `${file} e_machine 0x${elf.machine.toString(16)}`);
      assert.ok(elf.class64 && elf.littleEndian, `${file} is not ELF64 little-endian`);
    }
    for (const tool of TOOLS) {
      assert.ok((statSync(join(dir, 'bin', tool)).mode & 0o111) !== 0, `bin/${tool} is not executable`);
      assert.match(readFileSync(join(dir, 'bin', tool), 'utf8'), /lib\/ld-linux-aarch64\.so\.1" --inhibit-cache/);
    }
  });
});
