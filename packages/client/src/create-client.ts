import type { SchemaDefinition } from '@mast/schema';
import { MastClient, type ClientOptions } from './client.js';
import type { AppTypes, FunctionMap, TypedClient, TypedClientOf } from './typed.js';

/**
 * Creates a client and starts connecting. With type arguments
 * (`createClient<typeof schema, typeof functions>(…)`) it is typed by the app's schema and
 * functions, or (`createClient<App>(…)`) by the types `mast codegen` wrote; without, rows are
 * plain records.
 */
export function createClient(options: ClientOptions): MastClient;
export function createClient<S extends SchemaDefinition, F extends FunctionMap = Record<never, never>>(options: ClientOptions): TypedClient<S, F>;
/** Typed by app types `mast codegen` wrote: `createClient<App>(…)`. */
export function createClient<T extends AppTypes>(options: ClientOptions): TypedClientOf<T>;
export function createClient(options: ClientOptions): MastClient {
  return new MastClient(options);
}
