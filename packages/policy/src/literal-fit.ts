import type { FieldKind } from '@mast/schema';
import type { LiteralNode } from './ast.js';
import { node } from './ast.js';

/** The static type of a value in a rule. `error` marks a value already reported. */
export type StaticType =
  | { readonly t: 'string' | 'bool' | 'datetime' | 'json' | 'null' | 'error' }
  | { readonly t: 'number'; readonly integer: boolean }
  | { readonly t: 'list'; readonly item: StaticType };

/** The static type of a field of `kind`. */
export function typeOfKind(kind: FieldKind): StaticType {
  switch (kind) {
    case 'string':
    case 'richtext':
    case 'id':
      return { t: 'string' };
    case 'int':
      return { t: 'number', integer: true };
    case 'float':
      return { t: 'number', integer: false };
    case 'bool':
    case 'datetime':
    case 'json':
      return { t: kind };
  }
}

/** Short name of a type for messages. */
export function typeName(type: StaticType): string {
  if (type.t === 'list') return `list of ${typeName(type.item)}`;
  if (type.t === 'number') return type.integer ? 'int' : 'number';
  return type.t === 'bool' ? 'bool' : type.t;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** An ISO-8601 date or date-time as the store holds it (UTC, milliseconds); null if it is not one. */
export function normaliseIso(text: string): string | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [, y, mo, d, zone] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return null;
  // A date-time without an offset is UTC, as in the filter language.
  const ms = Date.parse(text.includes('T') && zone === undefined ? `${text}Z` : text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** A string literal that is a number written the way JSON writes it (`"5"`, not `"05"`). */
function canonicalNumber(text: string): number | null {
  const n = Number(text);
  return text !== '' && Number.isFinite(n) && String(n) === text ? n : null;
}

/** Why a literal does not fit a field: a type mismatch, or a value of the right type out of range. */
export type FitProblem = { readonly code: 'POLICY_TYPE_MISMATCH' | 'POLICY_BAD_LITERAL'; readonly text: string };

/**
 * Converts a non-null literal to the domain value of a field of `kind`: datetimes normalised to
 * ISO UTC, and a canonical numeric string compared with a number field read as that number
 * (Pylon compares numbers by their decimal text and has no number literals).
 */
export function fitLiteral(literal: LiteralNode, kind: FieldKind, label: string): LiteralNode | FitProblem {
  const value = literal.value;
  const with_ = (v: string | number | boolean): LiteralNode => (v === value ? literal : node({ kind: 'literal', value: v, offset: literal.offset }));
  const mismatch = (): FitProblem => ({
    code: 'POLICY_TYPE_MISMATCH',
    text: `cannot compare ${label} (${typeName(typeOfKind(kind))}) with ${JSON.stringify(value)} (${value === null ? 'null' : typeof value})`,
  });
  switch (kind) {
    case 'string':
    case 'richtext':
    case 'id':
      return typeof value === 'string' ? literal : mismatch();
    case 'bool':
      return typeof value === 'boolean' ? literal : mismatch();
    case 'json':
      return value === null ? mismatch() : literal;
    case 'datetime': {
      if (typeof value !== 'string') return mismatch();
      const iso = normaliseIso(value);
      return iso === null ? { code: 'POLICY_BAD_LITERAL', text: `${label} is a datetime; ${JSON.stringify(value)} is not an ISO-8601 date` } : with_(iso);
    }
    case 'int':
    case 'float': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? canonicalNumber(value) : null;
      if (n === null) return mismatch();
      if (kind === 'int' && !Number.isSafeInteger(n)) {
        return { code: 'POLICY_BAD_LITERAL', text: `${label} is an int; ${JSON.stringify(value)} is not an integer within ±2^53` };
      }
      return with_(n);
    }
  }
}
