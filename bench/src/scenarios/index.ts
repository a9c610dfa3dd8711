import type { Scenario } from '../scenario.js';
import { crdtScenario } from './crdt.js';
import { crudScenario } from './crud.js';
import { fanoutScenario } from './fanout.js';

/** Every scenario by name, in the order `npm run bench` runs them; add one file and one line. */
export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map([crudScenario, fanoutScenario, crdtScenario].map((s) => [s.name, s]));
