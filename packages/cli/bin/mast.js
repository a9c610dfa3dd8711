#!/usr/bin/env node
// The `mast` command: the built CLI (`npm run build` at the repository's root makes dist/; an
// installed package ships it). It loads tsx only for an app written in TypeScript.
await import('../dist/main.js');
