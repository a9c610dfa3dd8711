#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loaders (ESM and CommonJS), so apps may write schema.ts
// and functions in TypeScript whether or not their folder declares "type": "module".
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCjs();
register();
await import('../src/main.ts');
