import { z } from 'zod';

/** A client-chosen id of a request or subscription: 1-128 characters. */
export const requestId = z.string().min(1).max(128);

/** A change-log sequence number. */
export const seqNumber = z.number().int().nonnegative();

/** A row as it crosses the wire: `id` plus the entity's fields as JSON values. */
export const wireRow = z.object({ id: z.string() }).catchall(z.unknown());

/** A row on the wire. */
export type WireRow = z.infer<typeof wireRow>;
