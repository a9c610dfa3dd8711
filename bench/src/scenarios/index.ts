import type { Scenario } from '../scenario.js';
import { crudScenario } from './crud.js';

/** Every scenario by name, in the order `npm run bench` runs them; add one file and one line. */
export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map([crudScenario].map((s) => [s.name, s]));
