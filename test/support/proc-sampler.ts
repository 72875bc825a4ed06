// Samples /proc while a process tree runs: the command line of the root and of every descendant, so a test can
// prove that no secret ever appeared in any process's argv (what `ps` shows every user on the host).
//
// Each sample records the process's executable (/proc/<pid>/exe) and its parent's, not only its cmdline: between
// fork and exec a child is still a copy of its parent, and its cmdline is the parent's argv. Sampled in that
// window (it widens under load), the CLI's child looks like a process carrying the CLI's --dbname URL. Such a
// copy shows nothing its parent did not already show, so it is recorded as `forkCopy` and judged as the parent
// (a root's argv is the caller's choice; any other parent is itself sampled and searched).
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';

export type ProcSample = {
  pid: number;
  /** Parent pid when sampled. */
  ppid: number;
  /** Target of /proc/<pid>/exe; "" when unreadable. */
  exe: string;
  cmdline: string;
  parentExe: string;
  parentCmdline: string;
  /** The sampled tree's root (its argv is the caller's choice). */
  root: boolean;
  /** Not yet exec'd: same executable and same argv as its parent (see above). */
  forkCopy: boolean;
};

function parentOf(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function exeOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** The pids of `root` and all its descendants right now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pp = parentOf(d);
    if (pp === undefined) continue;
    const list = children.get(pp) ?? [];
    list.push(Number(d));
    children.set(pp, list);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/**
 * One consistent sample of `pid`, or undefined when it exited or exec'd while being read. exe is read before and
 * after cmdline: when both reads agree, the cmdline belongs to that executable (exec replaces both at once).
 */
export function sampleProcess(pid: number, root: boolean): ProcSample | undefined {
  const exe = exeOf(pid);
  const cmdline = cmdlineOf(pid);
  const ppid = parentOf(pid);
  if (cmdline === undefined || ppid === undefined || exeOf(pid) !== exe) return undefined;
  const parentExe = exeOf(ppid);
  const parentCmdline = cmdlineOf(ppid) ?? '';
  const forkCopy = !root && exe !== '' && exe === parentExe && cmdline === parentCmdline;
  return { pid, ppid, exe, cmdline, parentExe, parentCmdline, root, forkCopy };
}

export type ProcSampler = {
  /** Stops sampling; returns every distinct (pid, exe, cmdline) seen. */
  stop(): ProcSample[];
};

export function sampleProcesses(root: number, intervalMs = 5): ProcSampler {
  const seen = new Map<string, ProcSample>();
  const tick = (): void => {
    for (const pid of processTree(root)) {
      const s = sampleProcess(pid, pid === root);
      if (s?.cmdline) seen.set(`${pid}\0${s.exe}\0${s.cmdline}`, s);
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return [...seen.values()];
    },
  };
}

/** One line per sample for failure messages: who it was, what it ran, and who its parent was. */
export function describeSample(s: ProcSample): string {
  return `pid ${s.pid} exe=${s.exe || '?'} ppid ${s.ppid} parentExe=${s.parentExe || '?'}${s.forkCopy ? ' (fork copy, not yet exec’d)' : ''}`;
}
