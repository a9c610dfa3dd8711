import type { LikeToken } from '@mast/schema';

/** Renders tokens as a case-sensitive SQLite GLOB pattern (`*`, `?`, and `[x]` for literals). */
export function renderGlob(tokens: readonly LikeToken[]): string {
  return tokens.map((t) => (t.kind === 'many' ? '*' : t.kind === 'one' ? '?' : t.text.replace(/[*?[]/g, (c) => `[${c}]`))).join('');
}
