import { readFileSync } from 'node:fs';

/** CPU time so far, in clock ticks: the whole machine's busy time and that of a set of processes. */
interface CpuSnapshot {
  readonly machineBusy: number;
  readonly machineTotal: number;
  readonly ours: number;
}

function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total }; // minus idle and iowait
}

function processTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
  } catch {
    return 0; // the process is gone
  }
}

function snapshot(pids: readonly number[]): CpuSnapshot | null {
  try {
    const { busy, total } = machineTicks();
    return { machineBusy: busy, machineTotal: total, ours: pids.reduce((sum, pid) => sum + processTicks(pid), 0) };
  } catch {
    return null; // not Linux
  }
}

/**
 * Measures how much of the machine other processes used while `fn` ran: busy CPU time not
 * spent by `pids`, as a percentage of all cores. A few percent is background noise; tens of
 * percent mean the cell shared the machine and its numbers are low. Null where /proc is missing.
 */
export async function withForeignCpu<T>(pids: () => readonly number[], fn: () => Promise<T>): Promise<{ value: T; foreignCpuPct: number | null }> {
  const before = snapshot(pids());
  const value = await fn();
  const after = snapshot(pids());
  if (!before || !after || after.machineTotal <= before.machineTotal) return { value, foreignCpuPct: null };
  const foreign = after.machineBusy - before.machineBusy - (after.ours - before.ours);
  const pct = (Math.max(0, foreign) / (after.machineTotal - before.machineTotal)) * 100;
  return { value, foreignCpuPct: Math.round(pct * 10) / 10 };
}
