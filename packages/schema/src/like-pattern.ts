/**
 * LIKE patterns as the filter language writes them: `%` any run, `_` one character (code point),
 * `\` escapes the next character (a trailing lone `\` is a literal backslash). Parsed once into
 * tokens so each SQL dialect renders its own syntax and the in-memory evaluator matches the same
 * language.
 */

/** One piece of a parsed LIKE pattern. */
export type LikeToken = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'one' } | { readonly kind: 'many' };

/** Splits a LIKE pattern into literal runs and wildcards. */
export function parseLike(pattern: string): LikeToken[] {
  const tokens: LikeToken[] = [];
  let literal = '';
  let escaped = false;
  const flush = (): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (const ch of pattern) {
    if (escaped) {
      literal += ch;
      escaped = false;
    } else if (ch === '\\') {
      escaped = true;
    } else if (ch === '%' || ch === '_') {
      flush();
      tokens.push(ch === '%' ? { kind: 'many' } : { kind: 'one' });
    } else {
      literal += ch;
    }
  }
  if (escaped) literal += '\\';
  flush();
  return tokens;
}

/** Renders tokens as a standard LIKE pattern to be used with `ESCAPE '\'`. */
export function renderLike(tokens: readonly LikeToken[]): string {
  return tokens.map((t) => (t.kind === 'many' ? '%' : t.kind === 'one' ? '_' : t.text.replace(/[\\%_]/g, (c) => `\\${c}`))).join('');
}

/**
 * The case fold `$ilike` applies to both the text and the rendered pattern, on the SQLite store
 * and in memory alike. It is JavaScript's `toLowerCase` (full Unicode, context-sensitive for a
 * final sigma), so folding the whole rendered pattern, not its pieces, is part of the contract.
 */
export function foldCase(text: string): string {
  return text.toLowerCase();
}
