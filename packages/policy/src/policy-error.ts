import { formatDiagnostics, type Diagnostic } from '@mast/schema';
import type { PolicyCode } from './policy-codes.js';

/** The manifest keys a rule can come from. */
export type RuleKey = 'allow' | 'allowRead' | 'allowInsert' | 'allowUpdate' | 'allowDelete' | 'allowWrite' | 'allowJoin';

/** Where an expression comes from, for messages: the policy's name and key, and its manifest path. */
export interface PolicyOrigin {
  readonly policy: string;
  readonly rule: RuleKey;
  /** Manifest path in the schema diagnostics' style, e.g. `policies[0] todo_owner.allowRead`. */
  readonly path: string;
  /** What the policy guards: an entity name, `action <name>`, or `room <pattern>`. */
  readonly target?: string;
}

/** A policy problem in the diagnostics style of @mast/schema, with its place in the expression. */
export interface PolicyDiagnostic extends Diagnostic {
  readonly code: PolicyCode;
  /** 1-based line and column (in code points) of the offending token. */
  readonly line: number;
  readonly column: number;
  /** The rule's expression, as written. */
  readonly expression: string;
  /** What the policy guards (see PolicyOrigin), when known. */
  readonly target?: string;
}

/** Thrown when policies cannot be compiled; carries every problem found, the first one first. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code: PolicyCode;
  readonly line: number;
  readonly column: number;
  readonly diagnostics: readonly PolicyDiagnostic[];

  constructor(diagnostics: readonly PolicyDiagnostic[]) {
    const first = diagnostics[0];
    if (!first) throw new Error('PolicyError needs at least one diagnostic');
    const message = diagnostics.length === 1 ? first.message : `${diagnostics.length} policy errors\n${formatDiagnostics(diagnostics)}`;
    super(message);
    this.code = first.code;
    this.line = first.line;
    this.column = first.column;
    this.diagnostics = Object.freeze([...diagnostics]);
  }
}

/** 1-based line and code-point column of a UTF-16 offset in `source`. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: [...lines[lines.length - 1]!].length + 1 };
}

/**
 * A diagnostic for the token at `offset`; the message reads like
 * `policy "todo_owner" allowRead, column 12: unknown field data.ownr on Todo`.
 */
export function policyDiagnostic(code: PolicyCode, source: string, offset: number, origin: PolicyOrigin | undefined, text: string, hint?: string): PolicyDiagnostic {
  const { line, column } = positionOf(source, offset);
  const where = line > 1 ? `line ${line}, column ${column}` : `column ${column}`;
  const label = origin ? `policy "${origin.policy}" ${origin.rule}` : 'policy expression';
  const base = { severity: 'error' as const, code, message: `${label}, ${where}: ${text}`, path: origin?.path ?? '', line, column, expression: source };
  return { ...base, ...(origin?.target === undefined ? {} : { target: origin.target }), ...(hint === undefined ? {} : { hint }) };
}

/**
 * Diagnostics as a report for people: each with its code and message, where it is (`file`, the
 * manifest path, what the policy guards), the expression with a caret under the position, and
 * the hint.
 */
export function formatPolicyDiagnostics(diagnostics: readonly PolicyDiagnostic[], file?: string): string {
  return diagnostics
    .map((d) => {
      const place = [file, d.path, d.target === undefined ? undefined : `(${d.target.startsWith('action ') || d.target.startsWith('room ') ? d.target : `entity ${d.target}`})`];
      const lines = [`${d.severity}[${d.code}] ${d.message}`, `  at ${place.filter((p) => p !== undefined && p !== '').join(' ')}`];
      const text = d.expression.split('\n')[d.line - 1];
      if (text !== undefined) lines.push(`  | ${text}`, `  | ${' '.repeat(d.column - 1)}^`);
      if (d.hint !== undefined) lines.push(`  hint: ${d.hint}`);
      return lines.join('\n');
    })
    .join('\n');
}
