import { AppError } from './app-error.js';

/**
 * The errors raised in more than one place, each written once: the same situation answers the
 * same code and the same sentence wherever it is detected. A row another caller may not read
 * is "not found" in exactly these words too, so a hidden row and a missing one look alike.
 */
export const errors = {
  /** A row that does not exist, or that the caller may not read. */
  rowNotFound: (entity: string, id: string): AppError => new AppError('NOT_FOUND', `${entity} with id "${id}" not found`),
  /** An entity name the schema does not have; `known` lists the ones it has. */
  unknownEntity: (name: string, known?: readonly string[]): AppError =>
    new AppError('ENTITY_NOT_FOUND', `Unknown entity: "${name}"`, known ? { hint: `Entities: ${known.join(', ')}` } : {}),
  /** An account id with no account behind it. */
  accountNotFound: (): AppError => new AppError('NOT_FOUND', 'No account with this id'),
} as const;
