export { AppError, toAppError } from './app-error.js';
export type { AppErrorOptions } from './app-error.js';
export { errors } from './errors.js';
