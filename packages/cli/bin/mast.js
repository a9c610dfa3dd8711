#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so apps may write schema.ts and functions in TS.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
