/**
 * Where things are in a JSON text: the offset of every value by its path, or the offset of the
 * first syntax error. `JSON.parse` stays the parser; this scanner only locates, so that manifest
 * diagnostics can name a line and column instead of a character position (or nothing at all,
 * which is what V8's "Unexpected token" messages give).
 */

/** A 1-based line and column. */
export interface TextLocation {
  readonly line: number;
  readonly column: number;
}

/** The outcome of scanning: value offsets keyed by `pathKey`, or the first syntax error. */
export type JsonScan = { ok: true; offsets: Map<string, number> } | { ok: false; offset: number; expected: string };

/** The key of a path in `JsonScan.offsets`: its segments joined by `/`. */
export function pathKey(path: readonly (string | number)[]): string {
  return path.map(String).join('/');
}

/** Turns a character offset into a 1-based line and column. */
export function locationOf(text: string, offset: number): TextLocation {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** The line holding `offset`, and a caret under its column (tabs kept so the caret lines up). */
export function caretAt(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const endAt = text.indexOf('\n', offset);
  const line = text.slice(start, endAt === -1 ? text.length : endAt).replace(/\r$/, '');
  const pad = line.slice(0, offset - start).replace(/[^\t]/g, ' ');
  return `${line}\n${pad}^`;
}

class SyntaxAt extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {
    super(expected);
  }
}

const LITERALS = ['true', 'false', 'null'] as const;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Scans `text` as JSON, recording the offset of each value (and of each object key's value). */
export function scanJson(text: string): JsonScan {
  const offsets = new Map<string, number>();
  let i = 0;
  const skip = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = (): string => {
    const start = i;
    i++;
    let out = '';
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new SyntaxAt(i, 'a \\u escape with four hex digits');
          out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) throw new SyntaxAt(i, 'a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        out += next;
        i += 2;
        continue;
      }
      if (c.charCodeAt(0) < 0x20) throw new SyntaxAt(i, 'the string to be closed with " before the end of the line');
      out += c;
      i++;
    }
    throw new SyntaxAt(start, 'the string to be closed with "');
  };
  const value = (path: (string | number)[]): void => {
    skip();
    offsets.set(pathKey(path), i);
    const c = text[i];
    if (c === '{') {
      i++;
      skip();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') throw new SyntaxAt(i, text[i] === '}' ? 'another property after the comma (trailing commas are not JSON)' : 'a double-quoted property name');
        const key = string();
        skip();
        if (text[i] !== ':') throw new SyntaxAt(i, `":" after the property name "${key}"`);
        i++;
        value([...path, key]);
        skip();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new SyntaxAt(i, '"," or "}" after the property value');
      }
    }
    if (c === '[') {
      i++;
      skip();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        skip();
        if (text[i] === ']') throw new SyntaxAt(i, 'another element after the comma (trailing commas are not JSON)');
        value([...path, n]);
        skip();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new SyntaxAt(i, '"," or "]" after the array element');
      }
    }
    if (c === '"') {
      string();
      return;
    }
    for (const literal of LITERALS) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (number !== null) {
      i += number[0].length;
      return;
    }
    throw new SyntaxAt(i, c === undefined ? 'a value before the end of the file' : 'a value (object, array, string, number, true, false or null)');
  };
  try {
    value([]);
    skip();
    if (i < text.length) throw new SyntaxAt(i, 'the end of the file after the top-level value');
    return { ok: true, offsets };
  } catch (error) {
    if (error instanceof SyntaxAt) return { ok: false, offset: error.offset, expected: error.expected };
    throw error;
  }
}
