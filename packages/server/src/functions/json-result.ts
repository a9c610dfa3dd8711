import { AppError } from '../errors/index.js';

/**
 * A handler's return value as the JSON the client will get: `undefined` becomes null, `toJSON`
 * (dates) applies. A value JSON cannot carry — a BigInt, a cycle, NaN or Infinity, a function
 * or symbol where a value is expected — is FN_RESULT_INVALID rather than silently changed.
 */
export function toJsonResult(name: string, value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`${v} is not a JSON number`);
      if (typeof v === 'function' || typeof v === 'symbol') throw new TypeError(`a ${typeof v} is not a JSON value`);
      return v;
    });
  } catch (err) {
    throw new AppError('FN_RESULT_INVALID', `Function "${name}" returned a value that is not JSON: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (text === undefined) throw new AppError('FN_RESULT_INVALID', `Function "${name}" returned a value that is not JSON`);
  return JSON.parse(text) as unknown;
}
