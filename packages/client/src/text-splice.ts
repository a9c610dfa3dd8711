import type { LoroText } from 'loro-crdt';

/** One edit turning a text into another: at `index` (UTF-16), remove `remove` units and insert `insert`. */
export interface TextSplice {
  readonly index: number;
  readonly remove: number;
  readonly insert: string;
}

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/**
 * The smallest single splice turning `prev` into `next` (common prefix and suffix kept), or
 * null when they are equal. It never cuts a surrogate pair. A text box reports one change per
 * input event (typing, deleting, pasting over a selection), which is exactly one splice, so the
 * CRDT gets character-level operations and concurrent edits elsewhere in the text survive.
 */
export function textSplice(prev: string, next: string): TextSplice | null {
  if (prev === next) return null;
  const max = Math.min(prev.length, next.length);
  let start = 0;
  while (start < max && prev.charCodeAt(start) === next.charCodeAt(start)) start++;
  if (start > 0 && isHigh(prev.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < max - start && prev.charCodeAt(prev.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
  if (end > 0 && isLow(prev.charCodeAt(prev.length - end))) end--;
  return { index: start, remove: prev.length - start - end, insert: next.slice(start, next.length - end) };
}

/**
 * Applies the change from the text's current value to `next` as one splice on `text` (not a
 * whole-text replace); the caller commits the document. Returns whether anything changed.
 */
export function applyTextChange(text: LoroText, next: string): boolean {
  const splice = textSplice(text.toString(), next);
  if (!splice) return false;
  if (splice.remove > 0) text.delete(splice.index, splice.remove);
  if (splice.insert.length > 0) text.insert(splice.index, splice.insert);
  return true;
}
