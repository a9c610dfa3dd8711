import { compileManifest, type Manifest, type ManifestIndex } from '@mast/schema';
import { describe, expect, it } from 'vitest';
import { AccessControl } from './access-control.js';
import { missingRelationIndexes } from './relation-indexes.js';

function manifest(indexes: ManifestIndex[], rule: string): Manifest {
  const field = (name: string, type = 'string'): { name: string; type: string; optional: boolean; unique: boolean } => ({ name, type, optional: false, unique: false });
  return {
    manifest_version: 1,
    name: 'relation-indexes',
    version: '1',
    routes: [],
    entities: [
      { name: 'Membership', fields: [field('channelId'), field('userId'), field('role')], indexes },
      { name: 'Message', fields: [field('channelId'), field('title')], indexes: [] },
    ],
    policies: [{ name: 'members', entity: 'Message', allowRead: rule }],
  } as Manifest;
}

const RULE = 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)';

function missing(indexes: ManifestIndex[], rule = RULE): ReturnType<typeof missingRelationIndexes> {
  const schema = compileManifest(manifest(indexes, rule));
  return missingRelationIndexes(schema, new AccessControl(schema));
}

describe('missingRelationIndexes', () => {
  it('names the index an exists lookup needs when none serves it', () => {
    const [warning, ...rest] = missing([]);
    expect(rest).toEqual([]);
    expect(warning).toMatchObject({ policy: 'members', entity: 'Membership', fields: ['channelId', 'userId'] });
    expect(warning!.message).toContain('"fields": ["channelId","userId"]');
  });

  it('is satisfied by an index that starts with one of the looked-up fields, and by id', () => {
    expect(missing([{ name: 'by_user', fields: ['userId', 'channelId'], unique: true }])).toEqual([]);
    // An index that does not start with a looked-up field does not serve the lookup.
    expect(missing([{ name: 'by_role', fields: ['role', 'userId'], unique: false }])).toHaveLength(1);
    expect(missing([], 'exists(Membership, m => m.id == data.channelId)')).toEqual([]);
  });
});
