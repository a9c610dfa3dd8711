/**
 * Standard 5-field cron expressions, evaluated in UTC: minute (0-59), hour (0-23), day of month
 * (1-31), month (1-12 or jan-dec), day of week (0-7 or sun-sat, 0 and 7 both Sunday). A field is
 * `*`, a value, a range `a-b`, any of those with a step (`*\/15`, `1-30/2`, `5/10` = 5-max/10),
 * or a comma list of them. As in classic cron, when both day fields are restricted a day
 * matching either one fires (Pylon ANDs them).
 */

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

/** How far `next` searches before deciding an expression never fires (Feb 29 on a given weekday recurs within 28 years). */
const SEARCH_YEARS = 30;
const MINUTE = 60_000;

/** A parsed cron expression. */
export interface CronExpression {
  readonly source: string;
  /** The first matching minute strictly after `after` (ms since the epoch), or null if it never fires. */
  next(after: number): number | null;
}

function value(text: string, field: FieldSpec, expr: string): number {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  const n = named >= 0 ? named + (field.min === 1 ? 1 : 0) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < field.min || n > field.max) {
    throw new Error(`Invalid cron expression "${expr}": ${field.name} "${text}" is not in ${field.min}-${field.max}`);
  }
  return n;
}

function parseField(text: string, field: FieldSpec, expr: string): { set: Set<number>; star: boolean } {
  const set = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`Invalid cron expression "${expr}": cannot read ${field.name} "${part}"`);
    const [, range, stepText] = m as unknown as [string, string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`Invalid cron expression "${expr}": step "${stepText}" must be a positive integer`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [field.min, field.max];
    else if (range.includes('-')) {
      const [a, b, ...rest] = range.split('-');
      if (rest.length > 0 || a === undefined || b === undefined) throw new Error(`Invalid cron expression "${expr}": cannot read ${field.name} "${part}"`);
      [lo, hi] = [value(a, field, expr), value(b, field, expr)];
      if (lo > hi) throw new Error(`Invalid cron expression "${expr}": ${field.name} range "${range}" runs backwards`);
    } else {
      lo = value(range, field, expr);
      hi = stepText === undefined ? lo : field.max;
    }
    for (let n = lo; n <= hi; n += step) set.add(n);
  }
  return { set, star: text === '*' || text.startsWith('*/') };
}

/** Parses an expression; throws an Error naming the bad field. */
export function parseCron(expr: string): CronExpression {
  if (typeof expr !== 'string') throw new Error('A cron expression is a string');
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`Invalid cron expression "${expr}": it needs 5 fields (minute hour day-of-month month day-of-week), not ${parts.length}`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, FIELDS[i]!, expr)) as [
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
  ];
  if (dow.set.has(7)) dow.set.add(0);
  const dayMatches = (d: Date): boolean => {
    const inDom = dom.set.has(d.getUTCDate());
    const inDow = dow.set.has(d.getUTCDay());
    if (dom.star || dow.star) return dom.star ? inDow : inDom;
    return inDom || inDow;
  };
  return {
    source: expr,
    next(after: number): number | null {
      const d = new Date(Math.floor(after / MINUTE) * MINUTE + MINUTE);
      const limit = d.getUTCFullYear() + SEARCH_YEARS;
      while (d.getUTCFullYear() <= limit) {
        if (!month.set.has(d.getUTCMonth() + 1)) {
          d.setUTCMonth(d.getUTCMonth() + 1, 1);
          d.setUTCHours(0, 0, 0, 0);
        } else if (!dayMatches(d)) {
          d.setUTCDate(d.getUTCDate() + 1);
          d.setUTCHours(0, 0, 0, 0);
        } else if (!hour.set.has(d.getUTCHours())) {
          d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
        } else if (!minute.set.has(d.getUTCMinutes())) {
          d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
        } else {
          return d.getTime();
        }
      }
      return null;
    },
  };
}
