import { cpus, loadavg, platform, release, totalmem } from 'node:os';

/** The machine the numbers were measured on. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly totalMemoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
  /** 1/5/15-minute load averages when the run began: other work on the machine skews the numbers. */
  readonly loadAverageAtStart: readonly number[];
}

/** Describes this machine and the current time. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
    date: new Date().toISOString(),
    loadAverageAtStart: loadAverages(),
  };
}

/** One line naming the machine, for tables and docs. */
export function machineLine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.totalMemoryGiB} GiB RAM, Node ${m.node}, ${m.os}`;
}

/** The 1/5/15-minute load averages, rounded to hundredths. */
export function loadAverages(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}
