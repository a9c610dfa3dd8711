import { relatedAccesses } from '@mast/policy';
import { entityIndexesOf, type AppSchema } from '@mast/schema';
import type { AccessControl } from './access-control.js';

/** A related-row lookup of a rule that no index serves. */
export interface MissingRelationIndex {
  readonly policy: string;
  readonly entity: string;
  readonly fields: readonly string[];
  /** What to tell the developer: the index to declare. */
  readonly message: string;
}

const OPERATIONS = ['read', 'insert', 'update', 'delete'] as const;

/**
 * The `exists(…)` lookups of the app's rules that no index of the related entity can serve:
 * each finds rows by the fields its `==` conditions name, so some declared index (or unique
 * field) should start with one of them (`id` is always indexed). Mast does not create these
 * indexes itself, since their order and uniqueness are the app's choice; start-up warns
 * instead, naming the index to add.
 */
export function missingRelationIndexes(schema: AppSchema, access: AccessControl): MissingRelationIndex[] {
  const missing = new Map<string, MissingRelationIndex>();
  for (const entity of schema.entities) {
    for (const operation of OPERATIONS) {
      for (const rule of access.rules(entity.name, operation)) {
        for (const lookup of relatedAccesses(rule.expr)) {
          const target = schema.entitiesByName.get(lookup.entity);
          if (!target || lookup.fields.length === 0 || lookup.fields.includes('id')) continue;
          const served = entityIndexesOf(target).some((index) => lookup.fields.includes(index.fields[0] ?? ''));
          const key = `${lookup.entity}\n${[...lookup.fields].sort().join(',')}`;
          if (served || missing.has(key)) continue;
          const fields = [...lookup.fields];
          missing.set(key, {
            policy: rule.policy,
            entity: lookup.entity,
            fields,
            message: `policy "${rule.policy}" finds ${lookup.entity} rows by ${fields.join(', ')}, and no index of ${lookup.entity} starts with ${fields.length === 1 ? 'it' : 'one of them'}: declare one, e.g. { "name": "by_${fields.join('_')}", "fields": ${JSON.stringify(fields)}, "unique": false }`,
          });
        }
      }
    }
  }
  return [...missing.values()];
}
