import type { AppSchema, EntitySchema, FilterNode, RelatedLookup } from '@mast/schema';
import { AccessControl } from './access-control.js';
import { errors } from '../errors/index.js';

/**
 * The schema the server currently serves, with its compiled policies. Services hold this
 * reference, not the schema, so a reload (`mast dev`) swaps both in one place; requests
 * already running keep what they looked up.
 */
export class SchemaRef {
  #current: AppSchema;
  #access: AccessControl;
  #rowExists: RelatedLookup | null = null;

  /**
   * How policies' `exists(…)` reach related rows when one row is decided; it asks the store
   * bound with `bindStore` (policies compile before the store opens).
   */
  readonly lookup: RelatedLookup = (entity: string, where: FilterNode): boolean => {
    if (!this.#rowExists) throw new Error('a policy reads related rows, but no store is bound to the schema (SchemaRef.bindStore)');
    return this.#rowExists(entity, where);
  };

  /** Compiles the schema's policies; throws PolicyError when one does not parse or check. */
  constructor(schema: AppSchema) {
    this.#access = new AccessControl(schema, this.lookup);
    this.#current = schema;
  }

  /** Lets policies read related rows from `store` (its `rowExists`). */
  bindStore(store: { rowExists(entity: string, where: FilterNode): boolean }): void {
    this.#rowExists = (entity, where) => store.rowExists(entity, where);
  }

  /** The schema in force. */
  get current(): AppSchema {
    return this.#current;
  }

  /** The access decisions of the schema in force. */
  get access(): AccessControl {
    return this.#access;
  }

  /** Replaces schema and policies together; on a policy error nothing changes. */
  use(schema: AppSchema, access: AccessControl = new AccessControl(schema, this.lookup)): void {
    this.#current = schema;
    this.#access = access;
  }

  /** Looks an entity up, or throws ENTITY_NOT_FOUND listing the known ones. */
  entity(name: string): EntitySchema {
    const entity = this.#current.entitiesByName.get(name);
    if (!entity) {
      throw errors.unknownEntity(
        name,
        this.#current.entities.map((e) => e.name),
      );
    }
    return entity;
  }
}
