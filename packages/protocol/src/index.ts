export { errorCatalogue, isErrorCode } from './error-codes.js';
export type { ErrorCode, ErrorEnvelope } from './error-codes.js';
export type { ChangeEvent, ChangeKind, PullResponse, PushRequest, PushResponse, ClientChange } from './sync.js';
export { PROTOCOL_VERSION, PROTOCOL_HISTORY } from './version.js';
export { closeCodes } from './close-codes.js';
export type { CloseCodeName } from './close-codes.js';
export { requestId, seqNumber, wireRow } from './common.js';
export type { WireRow } from './common.js';
export { helloMessage } from './hello.js';
export type { HelloMessage } from './hello.js';
export { subscribeMessage, unsubscribeMessage, resultMessage, diffMessage } from './subscribe.js';
export type { SubscribeMessage, UnsubscribeMessage, ResultMessage, DiffMessage } from './subscribe.js';
export { barrierMessage } from './barrier.js';
export type { BarrierMessage } from './barrier.js';
export { resumeMessage, resumedMessage, MAX_RESUME_SUBSCRIPTIONS } from './resume.js';
export type { ResumeMessage, ResumedMessage } from './resume.js';
export { fnCallMessage, fnCancelMessage, fnChunkMessage, fnResultMessage, fnWatchMessage, fnUnwatchMessage, fnWatchResultMessage, fnWatchDiffMessage } from './functions.js';
export type { FnCallMessage, FnCancelMessage, FnChunkMessage, FnResultMessage, FnWatchMessage, FnUnwatchMessage, FnWatchResultMessage, FnWatchDiffMessage } from './functions.js';
export { rowKey, diffRow, valueDiff, rowsDiff, resultDiff, applyResultDiff, ResultDiffMismatch } from './result-diff.js';
export type { RowKey, DiffRow, ValueDiff, RowsDiff, ResultDiff } from './result-diff.js';
export { ackMessage, errorMessage } from './reply.js';
export type { AckMessage, ErrorMessage } from './reply.js';
export { clientMessage, serverMessage, parseClientMessage } from './messages.js';
export type { ClientMessage, ServerMessage, ParsedClientMessage } from './messages.js';
export { liveWindow } from './live-window.js';
export { checkJsonLimits, describeJsonViolation, DEFAULT_JSON_LIMITS } from './json-limits.js';
export type { JsonLimits, JsonLimitViolation } from './json-limits.js';
export { crdtFrameTypes, encodeCrdtFrame, decodeCrdtFrame, MAX_CRDT_NAME_BYTES } from './crdt-frame.js';
export type { CrdtFrame, CrdtFrameType, CrdtFrameError } from './crdt-frame.js';
export { crdtSubscribeMessage, crdtUnsubscribeMessage, crdtResyncMessage, crdtClientMessage, crdtRowId } from './crdt.js';
export type { CrdtSubscribeMessage, CrdtUnsubscribeMessage, CrdtResyncMessage, CrdtClientMessage } from './crdt.js';
export {
  roomName,
  joinMessage,
  leaveMessage,
  presenceMessage,
  broadcastMessage,
  roomMember,
  joinedMessage,
  presenceEventMessage,
  broadcastEventMessage,
  roomClientMessage,
  MAX_MEMBER_TOPICS,
} from './rooms.js';
export type {
  JoinMessage,
  LeaveMessage,
  PresenceMessage,
  BroadcastMessage,
  RoomClientMessage,
  RoomMember,
  JoinedMessage,
  PresenceEventMessage,
  BroadcastEventMessage,
} from './rooms.js';
