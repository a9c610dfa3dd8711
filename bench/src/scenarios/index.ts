import type { Scenario } from '../scenario.js';
import { crdtScenario } from './crdt.js';
import { crudScenario } from './crud.js';
import { fanoutScenario } from './fanout.js';
import { functionsScenario } from './functions.js';
import { policyScenario } from './policy.js';
import { policyLiveScenario } from './policy-live.js';
import { startupScenario } from './startup.js';

/** Every scenario by name, in the order `npm run bench` runs them; add one file and one line. */
export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map(
  [crudScenario, fanoutScenario, crdtScenario, functionsScenario, policyScenario, policyLiveScenario, startupScenario].map((s) => [s.name, s]),
);
