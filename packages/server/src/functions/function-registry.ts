import type { CronExpression, FunctionDefinition, FunctionKind } from '@mast/functions';

/** A function file that could not be served, and why. */
export interface FunctionLoadError {
  /** Absolute path of the file. */
  readonly file: string;
  /** 1-based line of the problem, when the error tells it. */
  readonly line?: number;
  readonly message: string;
}

/** A loaded function. */
export interface RegisteredFunction {
  readonly name: string;
  readonly file: string;
  /** The URL the file was imported from (with its reload version): a function worker imports the same. */
  readonly url: string;
  readonly definition: FunctionDefinition;
}

/** A cron schedule of the app (`functions/crons.ts`), checked against the functions it runs. */
export interface RegisteredCron {
  readonly name: string;
  readonly expression: CronExpression;
  readonly fn: string;
  readonly args: Record<string, unknown>;
}

/** What one load of the `functions/` folder produced. */
export interface FunctionSet {
  readonly functions: ReadonlyMap<string, RegisteredFunction>;
  readonly crons: ReadonlyMap<string, RegisteredCron>;
  readonly errors: readonly FunctionLoadError[];
}

/** The functions the server currently serves; a reload swaps the whole set at once. */
export class FunctionRegistry {
  #set: FunctionSet = { functions: new Map(), crons: new Map(), errors: [] };

  /** The set in force (calls already running keep the definition they looked up). */
  get current(): FunctionSet {
    return this.#set;
  }

  /** Replaces the served set. */
  use(set: FunctionSet): void {
    this.#set = set;
  }

  /** One function by name. */
  get(name: string): RegisteredFunction | undefined {
    return this.#set.functions.get(name);
  }

  /** Names and kinds, sorted by name. */
  list(): Array<{ name: string; kind: FunctionKind; definition: FunctionDefinition }> {
    return [...this.#set.functions.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => ({ name: f.name, kind: f.definition.kind, definition: f.definition }));
  }
}
