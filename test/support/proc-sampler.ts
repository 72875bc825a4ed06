// Samples /proc while a process tree runs: the command line of the root and of every descendant, so a test can
// prove that no secret ever appeared in any process's argv (what `ps` shows every user on the host).
import { readFileSync, readdirSync } from 'node:fs';

export type ProcSample = { pid: number; cmdline: string /** The sampled tree's root (its argv is the caller's choice). */; root: boolean };

function parentOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
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

export type ProcSampler = {
  /** Stops sampling; returns every distinct (pid, cmdline) seen. */
  stop(): ProcSample[];
};

export function sampleProcesses(root: number, intervalMs = 5): ProcSampler {
  const seen = new Map<string, ProcSample>();
  const tick = (): void => {
    for (const pid of processTree(root)) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
        if (cmdline) seen.set(`${pid} ${cmdline}`, { pid, cmdline, root: pid === root });
      } catch {
        // exited between listing and reading
      }
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
