export { loadConfig, optionsHelp, parseOptionValue } from './config.js';
export type { MastConfig } from './config.js';
export { OPTIONS } from './options.js';
export type { OptionSpec, OptionKey, OptionType } from './options.js';
