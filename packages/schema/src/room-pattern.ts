/**
 * A room name pattern of a room policy: literal text with `{name}` placeholders, e.g.
 * `channel:{id}` or `doc:{workspace}:{id}`. A placeholder matches one or more characters other
 * than `:`, so `channel:{id}` matches `channel:c1` and not `channel:` or `channel:a:b`.
 */
export interface RoomPattern {
  /** The pattern as written. */
  readonly source: string;
  /** The placeholder names, in order. */
  readonly params: readonly string[];
  /** The captured values of a room name, by placeholder, or null when it does not match. */
  match(room: string): Readonly<Record<string, string>> | null;
}

const PARAM = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a room pattern; a string names what is wrong with it instead. */
export function parseRoomPattern(source: string): RoomPattern | string {
  if (source === '') return 'the room pattern is empty';
  const params: string[] = [];
  let regex = '^';
  let i = 0;
  let lastWasParam = false;
  while (i < source.length) {
    const open = source.indexOf('{', i);
    const close = source.indexOf('}', i);
    if (close !== -1 && (open === -1 || close < open)) return `"}" at column ${close + 1} closes no placeholder`;
    if (open === -1) {
      regex += escapeRegex(source.slice(i));
      lastWasParam = false;
      break;
    }
    if (open > i) {
      regex += escapeRegex(source.slice(i, open));
      lastWasParam = false;
    }
    const end = source.indexOf('}', open);
    if (end === -1) return `"{" at column ${open + 1} is not closed`;
    const name = source.slice(open + 1, end);
    if (!PARAM.test(name)) return `placeholder {${name}} at column ${open + 1} is not a name (letters, digits and _)`;
    if (params.includes(name)) return `placeholder {${name}} appears twice`;
    if (lastWasParam) return `placeholder {${name}} at column ${open + 1} follows another with nothing between them`;
    params.push(name);
    regex += '([^:]+)';
    lastWasParam = true;
    i = end + 1;
  }
  const compiled = new RegExp(`${regex}$`, 'u');
  return Object.freeze({
    source,
    params: Object.freeze(params),
    match(room: string): Readonly<Record<string, string>> | null {
      const found = compiled.exec(room);
      if (!found) return null;
      const values: Record<string, string> = {};
      params.forEach((name, k) => {
        values[name] = found[k + 1]!;
      });
      return Object.freeze(values);
    },
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
