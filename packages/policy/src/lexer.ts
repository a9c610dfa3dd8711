import { policyDiagnostic, PolicyError, type PolicyOrigin } from './policy-error.js';

/** One token of a policy expression; `offset` is its UTF-16 offset in the source. */
export type Token =
  | { readonly type: 'string'; readonly value: string; readonly offset: number }
  | { readonly type: 'number'; readonly value: number; readonly offset: number }
  | { readonly type: 'ident'; readonly value: string; readonly offset: number }
  | { readonly type: 'punct'; readonly value: Punct; readonly offset: number }
  | { readonly type: 'eof'; readonly offset: number };

/** Operators and punctuation. */
export type Punct = '=>' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '&&' | '||' | '!' | '(' | ')' | '[' | ']' | ',' | '.';

const TWO_CHAR: ReadonlySet<string> = new Set(['=>', '==', '!=', '<=', '>=', '&&', '||']);
const ONE_CHAR: ReadonlySet<string> = new Set(['<', '>', '!', '(', ')', '[', ']', ',', '.']);
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', "'": "'", n: '\n', r: '\r', t: '\t', '0': '\0' };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s+/y;
const DOUBLED: Readonly<Record<string, string>> = { '=': '==', '&': '&&', '|': '||' };

/** Splits an expression into tokens, ending with `eof`; throws PolicyError POLICY_SYNTAX. */
export function tokenize(source: string, origin?: PolicyOrigin): Token[] {
  const fail = (offset: number, text: string): never => {
    throw new PolicyError([policyDiagnostic('POLICY_SYNTAX', source, offset, origin, text)]);
  };
  const tokens: Token[] = [];
  let i = 0;
  const match = (re: RegExp): string | null => {
    re.lastIndex = i;
    const m = re.exec(source);
    return m ? m[0] : null;
  };
  while (i < source.length) {
    const space = match(SPACE);
    if (space) {
      i += space.length;
      continue;
    }
    const ch = source[i]!;
    const two = source.slice(i, i + 2);
    if (TWO_CHAR.has(two)) {
      tokens.push({ type: 'punct', value: two as Punct, offset: i });
      i += 2;
    } else if (DOUBLED[ch] !== undefined) {
      fail(i, `"${ch}" is not an operator; use "${DOUBLED[ch]}"`);
    } else if (ONE_CHAR.has(ch) && !(ch === '.' && /\d/.test(source[i + 1] ?? ''))) {
      tokens.push({ type: 'punct', value: ch as Punct, offset: i });
      i += 1;
    } else if (ch === '"' || ch === "'") {
      const start = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= source.length) fail(start, 'unterminated string');
        const c = source[i]!;
        if (c === ch) break;
        if (c === '\\') {
          const escaped = ESCAPES[source[i + 1] ?? ''];
          if (escaped === undefined) fail(i, `unknown escape "\\${source[i + 1] ?? ''}" (valid: \\\\ \\" \\' \\n \\r \\t \\0)`);
          value += escaped;
          i += 2;
        } else {
          value += c;
          i += 1;
        }
      }
      tokens.push({ type: 'string', value, offset: start });
      i += 1;
    } else if (/[-\d.]/.test(ch)) {
      const text = match(NUMBER);
      if (text === null || /[A-Za-z0-9_.]/.test(source[i + text.length] ?? '')) fail(i, 'malformed number');
      if (!Number.isFinite(Number(text))) fail(i, 'number out of range');
      tokens.push({ type: 'number', value: Number(text), offset: i });
      i += text!.length;
    } else {
      const ident = match(IDENT);
      if (ident === null) fail(i, `unexpected character "${String.fromCodePoint(source.codePointAt(i)!)}"`);
      tokens.push({ type: 'ident', value: ident!, offset: i });
      i += ident!.length;
    }
  }
  tokens.push({ type: 'eof', offset: source.length });
  return tokens;
}
