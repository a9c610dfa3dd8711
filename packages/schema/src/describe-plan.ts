import type { FieldSchema } from './app-schema.js';
import type { MigrationPlan, MigrationStep } from './migration-plan.js';
import { fieldTypeText, isDestructiveStep } from './diff-schemas.js';
import { declaredIndexName } from './schema-indexes.js';

function describeField(field: FieldSchema): string {
  const flags = [field.optional ? 'optional' : 'required', ...(field.unique ? ['unique'] : []), ...(field.crdt !== undefined ? [`crdt ${field.crdt}`] : [])];
  return `${field.name} ${fieldTypeText(field)} (${flags.join(', ')})`;
}

function describeStep(step: MigrationStep): string {
  switch (step.kind) {
    case 'createTable':
      return `create table ${step.entity.name} (id, ${step.entity.fields.map(describeField).join(', ') || 'no fields'})`;
    case 'renameColumn':
      return `rename column ${step.entity}.${step.from} to ${step.field.name} (values kept)`;
    case 'addColumn':
      return `add column ${step.entity}.${describeField(step.field)}`;
    case 'createIndex':
      return `create ${step.index.unique ? 'unique ' : ''}index ${declaredIndexName(step.entity, step.index.name)} on ${step.entity} (${step.index.fields.join(', ')})`;
    case 'dropIndex':
      return `drop index ${declaredIndexName(step.entity, step.index.name)} on ${step.entity}`;
    case 'requireColumn':
      return `require ${step.entity}.${step.field.name} (refused while any row has no value for it)`;
    case 'noteChange':
      return `note ${step.detail}`;
    case 'dropColumn':
      return `drop column ${step.entity}.${step.field} (its values are lost)`;
    case 'changeType':
      return `change type of ${step.entity}.${step.to.name} from ${fieldTypeText(step.from)} to ${fieldTypeText(step.to)} (values that do not convert are lost)`;
    case 'dropTable':
      return `drop table ${step.entity} (all its rows are lost)`;
  }
}

/** One human-readable line per step, destructive ones prefixed with `DESTRUCTIVE` (for `mast migrate --dry-run`). */
export function describePlan(plan: MigrationPlan): string[] {
  return plan.steps.map((step) => (isDestructiveStep(step) ? `DESTRUCTIVE ${describeStep(step)}` : describeStep(step)));
}
