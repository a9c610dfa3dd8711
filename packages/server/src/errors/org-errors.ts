import { AppError } from './app-error.js';

/** The errors of organisations: members, roles and invites. Each message is written here once. */
export const orgErrors = {
  invalidRole: (roles: readonly string[]): AppError => new AppError('INVALID_DATA', `role must be one of ${roles.join(', ')}`, { fields: ['role'] }),
  invalidName: (max: number): AppError => new AppError('INVALID_DATA', `name must be 1-${max} characters`, { fields: ['name'] }),
  tooManyOrgs: (max: number): AppError => new AppError('LIMIT_REACHED', `A user may belong to at most ${max} orgs`),
  orgNotFound: (orgId: string): AppError => new AppError('ORG_NOT_FOUND', `No org "${orgId.slice(0, 64)}" that you belong to`),
  ownershipNeedsOwner: (): AppError => new AppError('ORG_FORBIDDEN', 'Only an owner can grant or take away ownership'),
  tooManyMembers: (max: number): AppError => new AppError('LIMIT_REACHED', `An org may have at most ${max} members`),
  removeNeedsAdmin: (): AppError => new AppError('ORG_FORBIDDEN', 'Only admins and owners remove other members'),
  removeOwnerNeedsOwner: (): AppError => new AppError('ORG_FORBIDDEN', 'Only an owner can remove an owner'),
  notAMemberOfThisOrg: (userId: string): AppError => new AppError('NOT_FOUND', `"${userId.slice(0, 128)}" is not a member of this org`),
  inviteOwnerNeedsOwner: (): AppError => new AppError('ORG_FORBIDDEN', 'Only an owner can invite an owner'),
  tooManyInvites: (max: number): AppError => new AppError('LIMIT_REACHED', `An org may have at most ${max} pending invites`),
  inviteNotFound: (): AppError => new AppError('NOT_FOUND', 'No pending invite with this id in this org'),
  invalidInvite: (): AppError => new AppError('INVALID_INVITE'),
  inviteEmailMismatch: (): AppError => new AppError('INVITE_EMAIL_MISMATCH', 'This invite is for another email address; sign in with the account that verified it'),
  selectNeedsSession: (): AppError => new AppError('AUTH_REQUIRED', 'Selecting an org needs a session token'),
  notAMember: (orgId: string): AppError => new AppError('NOT_A_MEMBER', `You are not a member of org "${orgId.slice(0, 64)}"`),
  /** ORG_FORBIDDEN; `reason` says which role the action needs. */
  forbidden: (reason: string): AppError => new AppError('ORG_FORBIDDEN', reason),
  invalidMemberId: (): AppError => new AppError('INVALID_DATA', 'user id must be 1-128 characters of A-Z a-z 0-9 _ - . : @', { fields: ['user_id'] }),
} as const;
