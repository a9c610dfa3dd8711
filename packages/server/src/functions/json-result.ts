import { fnErrors } from '../errors/index.js';
import { jsonText, notJsonMessage } from './json-text.js';

/**
 * A handler's return value as the JSON the client will get: `undefined` becomes null, `toJSON`
 * (dates) applies. A value JSON cannot carry — a BigInt, a cycle, NaN or Infinity, a function
 * or symbol where a value is expected — is FN_RESULT_INVALID rather than silently changed.
 */
export function toJsonResult(name: string, value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = jsonText(value);
  } catch (err) {
    throw fnErrors.resultNotJson(notJsonMessage(name, err), err);
  }
  if (text === undefined) throw fnErrors.resultNotJson(notJsonMessage(name));
  return JSON.parse(text) as unknown;
}
