import { AppError } from './app-error.js';

/** The errors of live queries and rooms. Each message is written here once. */
export const liveErrors = {
  unknownSubscription: (id: string): AppError => new AppError('UNKNOWN_SUBSCRIPTION', `No subscription "${id}" on this socket`),
  outsideChangeLog: (since: number, oldestSeq: number, headSeq: number): AppError =>
    new AppError('RESYNC_REQUIRED', `seq ${since} is outside the change log (oldest ${oldestSeq}, head ${headSeq}); subscribe again`, {
      extra: { oldest_seq: oldestSeq, head_seq: headSeq },
    }),
  offsetNotLive: (): AppError => new AppError('INVALID_QUERY', 'Live queries take no $offset; page with $order and $limit'),
  duplicateSubscription: (id: string): AppError => new AppError('DUPLICATE_SUBSCRIPTION', `Subscription "${id}" is already open on this socket`),
  tooManySubscriptions: (max: number): AppError => new AppError('TOO_MANY_SUBSCRIPTIONS', `A socket holds at most ${max} subscriptions`),
  unknownRelation: (name: string, entity: string, valid: readonly string[]): AppError =>
    new AppError('INVALID_QUERY', `Unknown relation "${name}" on ${entity} (to-one relations: ${valid.join(', ') || 'none'})`),
  toManyInclude: (name: string, target: string, field: string): AppError =>
    new AppError('INVALID_QUERY', `Relation "${name}" is to-many: live queries include to-one relations only; subscribe to ${target} with a filter on ${field}`),
  relationShadowsField: (name: string, entity: string): AppError =>
    new AppError('INVALID_QUERY', `Relation "${name}" has the name of a field of ${entity}, so it cannot be included`),
  alreadyInRoom: (room: string): AppError => new AppError('ALREADY_IN_ROOM', `This socket is already in room "${room}"; send presence to change its state`),
  tooManyRooms: (max: number): AppError => new AppError('TOO_MANY_ROOMS', `A socket may be in at most ${max} rooms; leave one first`),
  roomFull: (room: string, max: number): AppError => new AppError('ROOM_FULL', `Room "${room}" holds at most ${max} members`),
  roomNeedsSignIn: (): AppError => new AppError('AUTH_REQUIRED', 'Sign in to join a room: anonymous sockets have no identity to show other members'),
  roomNoGuests: (): AppError => new AppError('POLICY_DENIED', 'Guest sessions may not join rooms on this server'),
  roomDenied: (room: string): AppError => new AppError('POLICY_DENIED', `You may not join room "${room}"`),
  notInRoom: (room: string): AppError => new AppError('NOT_IN_ROOM', `This socket has not joined room "${room}"; send join first`),
  roomPayloadTooLarge: (what: string, bytes: number, max: number): AppError => new AppError('PAYLOAD_TOO_LARGE', `${what} is ${bytes} bytes of JSON; at most ${max} are accepted`),
} as const;
