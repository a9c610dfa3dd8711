import { AppError } from './app-error.js';

/** The errors of policy checks and of the policy explanation endpoint. Each message is written here once. */
export const accessErrors = {
  policyDenied: (action: string, entity: string): AppError =>
    new AppError('POLICY_DENIED', `Access denied by policy: you may not ${action} ${entity}`, { hint: 'Check your auth token or the policy rules in your schema' }),
  explainNotObject: (name: string): AppError => new AppError('INVALID_DATA', `${name} must be an object`, { fields: [name] }),
  explainUnknownKey: (name: string, hint: string | undefined, shape: string): AppError =>
    new AppError('INVALID_DATA', `unknown key "${name}"${hint === undefined ? '' : ` (did you mean ${hint}?)`}; the request is ${shape}`, { fields: [name] }),
  explainUserId: (): AppError => new AppError('INVALID_DATA', 'auth.user_id must be a string or null', { fields: ['auth'] }),
  explainRoles: (): AppError => new AppError('INVALID_DATA', 'auth.roles must be an array of strings', { fields: ['auth'] }),
  explainAuthKey: (key: string): AppError => new AppError('INVALID_DATA', `auth.${key} must be a string or null`, { fields: ['auth'] }),
  explainEntityRequired: (): AppError => new AppError('INVALID_DATA', 'entity (a string) is required', { fields: ['entity'] }),
  explainOperation: (): AppError => new AppError('INVALID_DATA', 'operation must be read, insert, update or delete', { fields: ['operation'] }),
} as const;
