import type { AppSchema, EntitySchema } from '@mast/schema';
import { AppError } from '../errors/index.js';

/**
 * The schema the server currently serves. Services hold this reference, not the schema, so a
 * reload (`mast dev`) swaps it in one place; requests already running keep what they looked up.
 */
export class SchemaRef {
  current: AppSchema;

  constructor(schema: AppSchema) {
    this.current = schema;
  }

  /** Looks an entity up, or throws ENTITY_NOT_FOUND listing the known ones. */
  entity(name: string): EntitySchema {
    const entity = this.current.entitiesByName.get(name);
    if (!entity) {
      throw new AppError('ENTITY_NOT_FOUND', `Unknown entity: "${name}"`, {
        hint: `Entities: ${this.current.entities.map((e) => e.name).join(', ')}`,
      });
    }
    return entity;
  }
}
