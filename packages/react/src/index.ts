export { MastProvider, useMastClient } from './provider.js';
export { useQuery, useQueryOne, usePaginatedQuery } from './query-hooks.js';
export type { QueryHookOptions, QueryResult, PaginationStatus } from './query-hooks.js';
export { useMutation, useAction, useConnectionStatus, useAuth, useWatch } from './call-hooks.js';
export { useRoom, usePresence } from './room-hooks.js';
export type { RoomHook } from './room-hooks.js';
export { useDoc, useText } from './doc-hooks.js';
export type { TextHook } from './doc-hooks.js';
