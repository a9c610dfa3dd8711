import type { JsonLimits } from '@mast/protocol';
import type { EntitySchema } from '@mast/schema';
import type { AccessControl } from '../access/index.js';
import type { AuthContext } from '../access/auth-context.js';
import type { Row, WriteTx } from '../store/index.js';

/** What merging a client update did. */
export interface MergeOutcome {
  readonly before: Row;
  readonly row: Row;
  /** False when the update held nothing the server did not have. */
  readonly docChanged: boolean;
  /** False when the projected row is the same as before (nothing to log or publish as a row change). */
  readonly rowChanged: boolean;
}

/**
 * The Loro documents of CRDT rows, as the write path uses them. `crdt/` implements it
 * (`crdtRows`) and the core hands it to the write path, which stays below the CRDT service.
 */
export interface CrdtRows {
  /** The document changes of one write transaction. */
  stage(): CrdtRowStage;
}

/** The document changes of one write transaction; `commit()` once the transaction committed. */
export interface CrdtRowStage {
  /**
   * A JSON write to a row of a CRDT entity, through its document when it has one; returns the
   * row `sqlWrite` returned. `current` is the row before the write (null for an insert).
   */
  write(
    tx: WriteTx,
    entity: EntitySchema,
    rowId: string,
    current: Row | null,
    values: Readonly<Record<string, unknown>>,
    sqlWrite: (values: Record<string, unknown>) => Promise<Row | null>,
  ): Promise<Row | null>;
  /** Merges a client's Loro update into the row's document and projects it onto the row. */
  merge(tx: WriteTx, access: AccessControl, auth: AuthContext, entity: EntitySchema, rowId: string, update: Uint8Array, jsonLimits?: JsonLimits): Promise<MergeOutcome>;
  /** Removes the row's document in this transaction (the row is being deleted). */
  remove(tx: WriteTx, entity: string, rowId: string): Promise<void>;
  /** The transaction committed: its saved documents become the committed ones. */
  commit(): void;
}
