import { describe, expect, it } from 'vitest';
import { parseCron } from './cron.js';

const at = (iso: string): number => Date.parse(iso);
const next = (expr: string, after: string): string | null => {
  const t = parseCron(expr).next(at(after));
  return t === null ? null : new Date(t).toISOString();
};

describe('cron expressions', () => {
  it('find the next matching minute, strictly after the given time, in UTC', () => {
    expect(next('* * * * *', '2026-03-01T10:00:00Z')).toBe('2026-03-01T10:01:00.000Z');
    expect(next('* * * * *', '2026-03-01T10:00:59.999Z')).toBe('2026-03-01T10:01:00.000Z');
    expect(next('*/15 * * * *', '2026-03-01T10:16:00Z')).toBe('2026-03-01T10:30:00.000Z');
    expect(next('0 3 * * *', '2026-03-01T03:00:00Z')).toBe('2026-03-02T03:00:00.000Z');
    expect(next('30 23 31 12 *', '2026-03-01T00:00:00Z')).toBe('2026-12-31T23:30:00.000Z');
    expect(next('0 0 1 jan,JUL *', '2026-03-01T00:00:00Z')).toBe('2026-07-01T00:00:00.000Z');
  });

  it('read ranges, steps over ranges, value/step and lists', () => {
    expect(next('10-20/5 * * * *', '2026-03-01T10:11:00Z')).toBe('2026-03-01T10:15:00.000Z');
    expect(next('10-20/5 * * * *', '2026-03-01T10:20:00Z')).toBe('2026-03-01T11:10:00.000Z');
    expect(next('50/5 * * * *', '2026-03-01T10:56:00Z')).toBe('2026-03-01T11:50:00.000Z');
    expect(next('1,2,59 * * * *', '2026-03-01T10:02:00Z')).toBe('2026-03-01T10:59:00.000Z');
  });

  it('days of week: names, 0 and 7 for Sunday; both day fields restricted means either', () => {
    // 2026-03-01 is a Sunday.
    expect(next('0 9 * * mon-fri', '2026-02-28T12:00:00Z')).toBe('2026-03-02T09:00:00.000Z');
    expect(next('0 9 * * 7', '2026-02-28T12:00:00Z')).toBe('2026-03-01T09:00:00.000Z');
    expect(next('0 9 * * 0', '2026-02-28T12:00:00Z')).toBe('2026-03-01T09:00:00.000Z');
    expect(next('0 0 13 * fri', '2026-03-01T00:00:00Z')).toBe('2026-03-06T00:00:00.000Z');
    expect(next('0 0 29 2 *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('an expression that can never fire has no next run', () => {
    expect(next('0 0 30 2 *', '2026-03-01T00:00:00Z')).toBeNull();
  });

  it('refuse malformed expressions, naming the problem', () => {
    expect(() => parseCron('* * * *')).toThrow(/needs 5 fields/);
    expect(() => parseCron('60 * * * *')).toThrow(/minute "60" is not in 0-59/);
    expect(() => parseCron('* 24 * * *')).toThrow(/hour/);
    expect(() => parseCron('* * 0 * *')).toThrow(/day of month/);
    expect(() => parseCron('* * * 13 *')).toThrow(/month/);
    expect(() => parseCron('* * * * 8')).toThrow(/day of week/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/step/);
    expect(() => parseCron('5-1 * * * *')).toThrow(/backwards/);
    expect(() => parseCron('a * * * *')).toThrow(/minute "a"/);
    expect(() => parseCron('@hourly')).toThrow(/5 fields/);
    expect(() => parseCron('1-2-3 * * * *')).toThrow(/cannot read/);
  });
});
