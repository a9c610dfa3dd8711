import { defineSchema, entity, field, policy } from '@mast/schema';

// The codegen fixture's schema in the TS DSL; pylon.manifest.json beside it is this schema's
// manifest (the codegen test checks that they agree), as an app with a JSON manifest has it.
const Project = entity('Project', {
  name: field.string().unique(),
  budget: field.float().optional(),
});

const Task = entity('Task', {
  title: field.string(),
  done: field.bool(),
  estimate: field.int().optional(),
  due: field.datetime().optional(),
  notes: field.richtext().optional(),
  meta: field.json().optional(),
  projectId: field.id('Project'),
});

export default defineSchema({
  name: 'codegen',
  version: '1',
  entities: [Project, Task],
  policies: [policy({ name: 'open', entity: 'Task', allow: 'auth.userId != null' }), policy({ name: 'projects', entity: 'Project', allow: 'auth.userId != null' })],
});
