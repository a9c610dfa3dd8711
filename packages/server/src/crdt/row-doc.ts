import { isContainer, type LoroDoc, type LoroMap } from 'loro-crdt';
import type { EntitySchema, FieldSchema } from '@mast/schema';
import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import { type AppError, crdtErrors } from '../errors/index.js';

/**
 * The shape of a row's Loro document, shared by server and clients:
 * - LWW fields (scalars, datetimes, ids, json without a container) are keys of the root map
 *   `row` (Pylon's server shape);
 * - container fields are root containers named after the field: `doc.getText(name)` for text
 *   and richtext, `getCounter`, `getList`, `getMovableList`, `getTree`. Root containers exist on
 *   every peer without being created, so two clients that start editing offline never create
 *   two competing containers (a map child created concurrently would hide one side's edits),
 *   and Pylon's `useCollabText` (root text named after the field) edits the same text.
 * - a container field that is null has `row[name] = null`; any other (or no) entry in `row`
 *   means the field holds its container's value.
 */

/** The container a field is kept in; null for an LWW value in the root map. */
export type ContainerKind = 'text' | 'counter' | 'list' | 'movable-list' | 'tree';

/** The root map holding LWW fields. */
export const ROW_MAP = 'row';

/** Which container a field of a CRDT entity uses (its `crdt` annotation, else its type's default). */
export function containerKindOf(field: FieldSchema): ContainerKind | null {
  switch (field.crdt) {
    case 'lww':
      return null;
    case 'text':
    case 'counter':
    case 'list':
    case 'movable-list':
    case 'tree':
      return field.crdt;
    default:
      return field.kind === 'richtext' ? 'text' : null;
  }
}

function unsupported(entity: EntitySchema, field: FieldSchema, what: string): AppError {
  return crdtErrors.fieldUnsupported(entity.name, field.name, what);
}

/**
 * The deepest and largest field value a row's document holds. Loro itself nests further, but
 * not safely: setting a value recurses in WASM (about 5,000 levels overflow the stack), and the
 * values it hands back are arrays and objects built by wasm-bindgen that `JSON.stringify`
 * overflows on at about 2,500 levels where a plain array of the same depth passes (the depth
 * depends on the stack already in use). Every projection compares values as JSON, so a document
 * holding one such value made every later write to its row fail. The bound is fixed, not the
 * configurable request limit: a document must stay readable whatever the configuration says.
 */
export const DOC_JSON_LIMITS: Readonly<JsonLimits> = DEFAULT_JSON_LIMITS;

/** Whether a value is within `DOC_JSON_LIMITS`; checked without recursion. */
function fitsDoc(value: unknown): boolean {
  return checkJsonLimits(value, DOC_JSON_LIMITS) === null;
}

/** JSON_TOO_DEEP for a field value a document cannot hold; null when it fits. */
function tooDeep(entity: EntitySchema, name: string, value: unknown, what: string): AppError | null {
  const violation = checkJsonLimits(value, DOC_JSON_LIMITS);
  if (violation === null) return null;
  return crdtErrors.fieldTooDeep(entity.name, name, violation, what);
}

/** JSON_TOO_DEEP unless every value fits a document: the check every JSON write to a CRDT entity makes. */
export function checkDocValues(entity: EntitySchema, values: Readonly<Record<string, unknown>>, what = 'a CRDT row cannot hold it'): void {
  for (const [name, value] of Object.entries(values)) {
    const error = tooDeep(entity, name, value, what);
    if (error) throw error;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  // A value over the bound (kept by a document written before it) is never "the same": it is replaced.
  if (!fitsDoc(a) || !fitsDoc(b)) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Replaces a list's items; a whole-list write has no finer intent to preserve. */
function replaceItems(list: { length: number; delete(pos: number, len: number): void; push(value: never): void; toJSON(): unknown }, items: readonly unknown[]): void {
  if (sameJson(list.toJSON(), items)) return;
  if (list.length > 0) list.delete(0, list.length);
  for (const item of items) list.push(item as never);
}

/**
 * Runs `fn` on a container handle, then frees the handle. A live handle keeps its whole
 * document in WASM memory after `doc.free()` until V8 collects the handle, which it does only
 * under JS heap pressure: without this, documents the cache evicts stay in memory (measured:
 * about 12 KB per edited small document) and the WASM heap, which never shrinks, grows with
 * every row ever touched.
 */
function withHandle<H extends { free(): void }, T>(handle: H, fn: (handle: H) => T): T {
  try {
    return fn(handle);
  } finally {
    handle.free();
  }
}

/** CRDT_FIELD_UNSUPPORTED for a non-null value its field's container cannot take from a JSON write. */
function checkContainerValue(entity: EntitySchema, field: FieldSchema, kind: ContainerKind, value: unknown): void {
  if ((kind === 'list' || kind === 'movable-list') && !Array.isArray(value)) throw unsupported(entity, field, `a ${kind} field takes a JSON array`);
  if (kind === 'tree') throw unsupported(entity, field, 'a tree field is edited with Loro updates (POST /api/crdt or the socket); a JSON write can only set it to null');
}

/**
 * The checks `writeFields` makes, without a document: a JSON write to a row that has no
 * document yet must store only values its document could later be built from.
 */
export function checkFields(entity: EntitySchema, values: Readonly<Record<string, unknown>>): void {
  checkDocValues(entity, values);
  for (const [name, value] of Object.entries(values)) {
    const field = entity.fieldsByName.get(name);
    const kind = field ? containerKindOf(field) : null;
    if (field && kind !== null && value !== null && value !== undefined) checkContainerValue(entity, field, kind, value);
  }
}

function writeContainer(doc: LoroDoc, entity: EntitySchema, field: FieldSchema, kind: ContainerKind, value: unknown): void {
  const name = field.name;
  checkContainerValue(entity, field, kind, value);
  switch (kind) {
    case 'text':
      return withHandle(doc.getText(name), (text) => {
        // update() diffs old and new text, so a REST write becomes character-level edits that
        // merge with concurrent typing instead of replacing it.
        if (text.toString() !== value) text.update(value as string);
      });
    case 'counter':
      return withHandle(doc.getCounter(name), (counter) => {
        const delta = (value as number) - counter.value;
        if (delta !== 0) counter.increment(delta);
      });
    case 'list':
    case 'movable-list':
      return withHandle(kind === 'list' ? doc.getList(name) : doc.getMovableList(name), (list) => replaceItems(list, value as unknown[]));
    case 'tree':
      return;
  }
}

/**
 * Writes validated field values (`coerceInsert`/`coercePatch` output) into the document and
 * commits: LWW keys are set only when they change, text is diffed, counters move by the
 * difference, lists are replaced. Throws CRDT_FIELD_UNSUPPORTED for a value a container cannot
 * take, JSON_TOO_DEEP for one over `DOC_JSON_LIMITS`; the caller works on a fork, so a throw
 * leaves the committed document untouched.
 */
export function writeFields(doc: LoroDoc, entity: EntitySchema, values: Readonly<Record<string, unknown>>): void {
  checkDocValues(entity, values);
  withHandle(doc.getMap(ROW_MAP), (row) => {
    for (const [name, value] of Object.entries(values)) {
      const field = entity.fieldsByName.get(name);
      if (!field || value === undefined) continue;
      const kind = containerKindOf(field);
      const current = entryOf(row, name);
      if (kind === null) {
        if (!sameJson(current ?? null, value) || current === undefined) row.set(name, value as never);
        continue;
      }
      if (value === null) {
        if (current !== null) row.set(name, null as never);
        continue;
      }
      writeContainer(doc, entity, field, kind, value);
      if (current === null) row.delete(name);
    }
  });
  doc.commit();
}

/**
 * The value under a key of the root map, as a value: a container a client stored there is read
 * as its JSON (and its handle freed); undefined when the key is absent.
 */
function entryOf(row: LoroMap, name: string): unknown {
  const value: unknown = row.get(name);
  return isContainer(value) ? withHandle(value, (container) => container.toJSON() as unknown) : value;
}

function plain(value: unknown): unknown {
  // A client may store an i64 (bigint in JS) under an LWW key; the row keeps JSON values, and
  // field validation then decides whether the value fits.
  if (typeof value === 'bigint') return Number(value);
  return value === undefined ? null : value;
}

/**
 * The JSON value of every declared field, read from the document (numbers stay numbers).
 * JSON_TOO_DEEP when a field holds a value over `DOC_JSON_LIMITS` (a client's update, or a
 * document stored before the bound): a write that replaces that field's value repairs the row.
 */
export function projectDoc(doc: LoroDoc, entity: EntitySchema): Record<string, unknown> {
  return withHandle(doc.getMap(ROW_MAP), (row) => {
    const out: Record<string, unknown> = {};
    for (const field of entity.fields) {
      const kind = containerKindOf(field);
      const entry = entryOf(row, field.name);
      if (kind === null) out[field.name] = plain(entry);
      else if (entry === null) out[field.name] = null;
      else out[field.name] = containerValue(doc, field.name, kind);
      const error = tooDeep(entity, field.name, out[field.name], "the row's document holds it; write a smaller value to the field to repair the row");
      if (error) throw error;
    }
    return out;
  });
}

function containerValue(doc: LoroDoc, name: string, kind: ContainerKind): unknown {
  switch (kind) {
    case 'text':
      return withHandle(doc.getText(name), (text) => text.toString());
    case 'counter':
      return withHandle(doc.getCounter(name), (counter) => counter.value);
    case 'list':
      return withHandle(doc.getList(name), (list) => list.toJSON() as unknown);
    case 'movable-list':
      return withHandle(doc.getMovableList(name), (list) => list.toJSON() as unknown);
    case 'tree':
      return withHandle(doc.getTree(name), (tree) => tree.toJSON() as unknown);
  }
}
