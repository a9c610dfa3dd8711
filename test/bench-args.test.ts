import { describe, expect, it } from 'vitest';
import { parseArgs } from '../bench/src/cli-args.js';
import { pylonManifest } from '../bench/src/harness/pylon.js';

describe('bench command line', () => {
  it('reads --against pylon and --quick', () => {
    const args = parseArgs(['crud', 'fanout', '--against', 'pylon', '--quick', '--duration=2']);
    expect(args).toMatchObject({ scenarios: ['crud', 'fanout'], against: 'pylon', quick: true, full: false, durationSec: 2 });
    expect(parseArgs(['--against=pylon']).against).toBe('pylon');
    expect(parseArgs([]).against).toBeNull();
  });

  it('refuses another server, a missing one, and --quick with --full', () => {
    expect(() => parseArgs(['--against', 'firebase'])).toThrow('--against takes pylon, got "firebase"');
    expect(() => parseArgs(['--against'])).toThrow('--against takes pylon, got ""');
    expect(() => parseArgs(['--quick', '--full'])).toThrow('--full and --quick contradict each other');
  });

  it('reads --sizes and refuses bad ones', () => {
    expect(parseArgs(['fanout', '--sizes', '1000,10000']).sizes).toEqual([1000, 10000]);
    expect(parseArgs(['--sizes=100']).sizes).toEqual([100]);
    expect(parseArgs([]).sizes).toBeNull();
    expect(() => parseArgs(['--sizes', '0'])).toThrow('--sizes needs positive integers');
    expect(() => parseArgs(['--sizes', '10,x'])).toThrow('--sizes needs positive integers');
    expect(() => parseArgs(['--sizes'])).toThrow('--sizes needs positive integers');
    expect(() => parseArgs(['--sizes', '100', '--full'])).toThrow('--sizes replaces --full and --quick');
  });
});

describe('the manifest Pylon is started with', () => {
  const manifest = (type: string) => ({
    manifest_version: 1,
    name: 'x',
    version: '1',
    entities: [{ name: 'Todo', fields: [{ name: 'tags', type, optional: true, unique: false }], indexes: [] }],
    routes: [],
    policies: [{ name: 'open', entity: 'Todo', allow: 'true' }],
  });

  it('is the same manifest with the lists Pylon names', () => {
    expect(pylonManifest(manifest('id(User)'))).toMatchObject({ queries: [], actions: [], policies: [{ allow: 'true' }] });
  });

  it('refuses a field type Pylon would not start with', () => {
    expect(() => pylonManifest(manifest('json'))).toThrow('Todo.tags has type json, which Pylon does not accept');
  });
});
