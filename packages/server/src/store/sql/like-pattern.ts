/**
 * LIKE patterns as the filter language writes them: `%` any run, `_` one character, `\` escapes
 * the next character (a trailing lone `\` is a literal backslash). Parsed once into tokens so
 * each dialect can render its own syntax (LIKE with an ESCAPE clause, or SQLite's GLOB).
 */

/** One piece of a parsed LIKE pattern. */
export type LikeToken =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'one' }
  | { readonly kind: 'many' };

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
  return tokens
    .map((t) => (t.kind === 'many' ? '%' : t.kind === 'one' ? '_' : t.text.replace(/[\\%_]/g, (c) => `\\${c}`)))
    .join('');
}

/** Renders tokens as a case-sensitive SQLite GLOB pattern (`*`, `?`, and `[x]` for literals). */
export function renderGlob(tokens: readonly LikeToken[]): string {
  return tokens
    .map((t) => (t.kind === 'many' ? '*' : t.kind === 'one' ? '?' : t.text.replace(/[*?[]/g, (c) => `[${c}]`)))
    .join('');
}
