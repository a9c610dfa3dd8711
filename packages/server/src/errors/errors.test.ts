import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCatalogue } from '@mast/protocol';
import { describe, expect, it } from 'vitest';
import * as catalogue from './index.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));

/** Source files of the server, tests excluded, as paths relative to `src/`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [relative(SRC, path)] : [];
  });
}

/** The catalogue objects `errors/index.ts` exports (`errors`, `httpErrors`, …). */
const factories = Object.entries(catalogue).flatMap(([group, value]) =>
  group === 'AppError' || typeof value !== 'object' || value === null
    ? []
    : Object.entries(value as Record<string, unknown>).map(([name, fn]) => ({ name: `${group}.${name}`, fn: fn as (...args: never[]) => unknown })),
);

describe('the error catalogue', () => {
  it('is the only place an AppError is made', () => {
    const offenders = sources(SRC).filter((file) => !file.startsWith('errors/') && readFileSync(join(SRC, file), 'utf8').includes('new AppError('));
    expect(offenders).toEqual([]);
  });

  it('holds only factories, each answering a code of the protocol catalogue', () => {
    expect(factories.length).toBeGreaterThan(150);
    for (const { name, fn } of factories) {
      expect(typeof fn, name).toBe('function');
      if (fn.length > 0) continue;
      const err = fn() as catalogue.AppError;
      expect(err, name).toBeInstanceOf(catalogue.AppError);
      expect(errorCatalogue[err.code], name).toBeDefined();
      expect(err.status, name).toBe(errorCatalogue[err.code].status);
    }
  });

  it('says each fixed message once: no two factories without arguments give the same code and message', () => {
    const seen = new Map<string, string>();
    for (const { name, fn } of factories) {
      if (fn.length > 0) continue;
      const err = fn() as catalogue.AppError;
      const key = `${err.code}: ${err.message}`;
      expect(seen.get(key), `${name} repeats ${seen.get(key)}`).toBeUndefined();
      seen.set(key, name);
    }
  });

  it('keeps code, fields and hint when an error is annotated, and chains the cause', () => {
    const inner = catalogue.accessErrors.policyDenied('update', 'Todo');
    const outer = catalogue.errors.annotated(inner, `operation 1: ${inner.message}`, { index: 1 });
    expect(outer.code).toBe('POLICY_DENIED');
    expect(outer.status).toBe(403);
    expect(outer.hint).toBe(inner.hint);
    expect(outer.cause).toBe(inner);
    expect(outer.toEnvelope()).toEqual({ error: { code: 'POLICY_DENIED', message: 'operation 1: Access denied by policy: you may not update Todo', hint: inner.hint, index: 1 } });
  });
});
