import { randomBytes } from 'node:crypto';
import { orgErrors } from '../errors/index.js';
import type { InviteRecord, MemberRecord, OrgRecord, OrgRole, Store } from '../store/index.js';
import { normalizeEmail } from './accounts.js';
import { type AuthContext, hashToken } from '../access/auth-context.js';
import { USER_ID } from './session-service.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** Orgs one user may belong to. */
export const MAX_ORGS_PER_USER = 100;
/** Members one org may have. */
export const MAX_MEMBERS_PER_ORG = 10_000;
/** Pending invites one org may have. */
export const MAX_INVITES_PER_ORG = 1_000;
/** How long an invite stays valid. */
export const INVITE_TTL_MS = 7 * 86_400_000;
/** Prefix of invite tokens. */
export const INVITE_PREFIX = 'mast_inv_';

const ROLES: readonly OrgRole[] = ['member', 'admin', 'owner'];
const NAME_MAX = 200;

const rank = (role: OrgRole | null): number => (role === null ? -1 : ROLES.indexOf(role));

/** Parses a role from a request body. */
export function parseOrgRole(value: unknown): OrgRole {
  if (typeof value !== 'string' || !(ROLES as readonly string[]).includes(value)) {
    throw orgErrors.invalidRole(ROLES);
  }
  return value as OrgRole;
}

/**
 * Orgs (tenants) and their members, with three roles: a member reads the org and its member
 * list; an admin also adds, changes and removes members and admins; an owner also grants and
 * takes away ownership and deletes the org. An org always keeps an owner. The org a session
 * selects becomes `auth.tenantId`, and the member's role in it `auth.orgRole`.
 */
/**
 * What changed the access of open connections: a member's role in an org (`userId`), a whole
 * org deleted (no `userId`), or the org a session selected (`tokenHash`).
 */
export type OrgAccessChange = { readonly orgId: string; readonly userId?: string } | { readonly tokenHash: string };

export class OrgService {
  readonly #store: Store;
  readonly #verifiedEmail: (userId: string) => Promise<string | null>;
  readonly #listeners: Array<(change: OrgAccessChange) => void> = [];

  /** `verifiedEmail` gives a user's email when it is verified (for invites addressed to an email). */
  readonly #clock: Clock;

  constructor(store: Store, verifiedEmail: (userId: string) => Promise<string | null>, clock: Clock = systemClock) {
    this.#store = store;
    this.#clock = clock;
    this.#verifiedEmail = verifiedEmail;
  }

  /**
   * Calls `listener` after every change that alters what an already authenticated connection
   * may read (a socket keeps the tenant and role it connected with, so it must reconnect).
   */
  onAccessChange(listener: (change: OrgAccessChange) => void): void {
    this.#listeners.push(listener);
  }

  #emit(change: OrgAccessChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  async create(userId: string, name: unknown, now = this.#clock.now()): Promise<OrgRecord & { role: OrgRole }> {
    if (typeof name !== 'string' || name.trim() === '' || name.length > NAME_MAX) {
      throw orgErrors.invalidName(NAME_MAX);
    }
    if ((await this.#store.orgs.countForUser(userId)) >= MAX_ORGS_PER_USER) {
      throw orgErrors.tooManyOrgs(MAX_ORGS_PER_USER);
    }
    const org: OrgRecord = { id: `org_${randomBytes(12).toString('hex')}`, name: name.trim(), createdBy: userId, createdAt: now };
    await this.#store.orgs.create(org);
    return { ...org, role: 'owner' };
  }

  list(userId: string): Promise<Array<OrgRecord & { role: OrgRole }>> {
    return this.#store.orgs.listForUser(userId);
  }

  /** The org and the caller's role; ORG_NOT_FOUND for non-members (an org's existence is not revealed). */
  async get(userId: string, orgId: string): Promise<OrgRecord & { role: OrgRole }> {
    const role = await this.#store.orgs.role(orgId, userId);
    const org = role === null ? null : await this.#store.orgs.get(orgId);
    if (role === null || org === null) throw orgErrors.orgNotFound(orgId);
    return { ...org, role };
  }

  async delete(userId: string, orgId: string): Promise<void> {
    await this.#require(userId, orgId, 'owner', 'Only an owner can delete the org');
    await this.#store.orgs.delete(orgId);
    this.#emit({ orgId });
  }

  async members(userId: string, orgId: string): Promise<MemberRecord[]> {
    await this.get(userId, orgId);
    return this.#store.orgs.members(orgId);
  }

  /** Adds a member or changes a role: admins manage members and admins; only owners touch ownership. */
  async putMember(actorId: string, orgId: string, userId: string, role: OrgRole, now = this.#clock.now()): Promise<MemberRecord> {
    if (!USER_ID.test(userId)) throw orgErrors.invalidMemberId();
    const actor = await this.#require(actorId, orgId, 'admin', 'Only admins and owners manage members');
    const current = await this.#store.orgs.role(orgId, userId);
    if ((role === 'owner' || current === 'owner') && actor !== 'owner') throw orgErrors.ownershipNeedsOwner();
    if (current === null && (await this.#store.orgs.countMembers(orgId)) >= MAX_MEMBERS_PER_ORG) {
      throw orgErrors.tooManyMembers(MAX_MEMBERS_PER_ORG);
    }
    const member: MemberRecord = { orgId, userId, role, createdAt: now };
    await this.#store.orgs.putMember(member);
    if (current !== null && current !== role) this.#emit({ orgId, userId });
    return member;
  }

  /** Removes a member: anyone may leave; admins remove members and admins; only owners remove owners. */
  async removeMember(actorId: string, orgId: string, userId: string): Promise<void> {
    const actor = await this.#require(actorId, orgId, 'member', '');
    if (actorId !== userId) {
      const target = await this.#store.orgs.role(orgId, userId);
      if (rank(actor) < rank('admin')) throw orgErrors.removeNeedsAdmin();
      if (target === 'owner' && actor !== 'owner') throw orgErrors.removeOwnerNeedsOwner();
      if (target === null) throw orgErrors.notAMemberOfThisOrg(userId);
    }
    await this.#store.orgs.removeMember(orgId, userId);
    this.#emit({ orgId, userId });
  }

  /**
   * Invites someone (admins; owner invites only by owners). The token is returned once; with an
   * `email`, only an account that verified that email can accept it.
   */
  async invite(actorId: string, orgId: string, input: { email?: unknown; role?: unknown }, now = this.#clock.now()): Promise<{ invite: InviteRecord; token: string }> {
    const actor = await this.#require(actorId, orgId, 'admin', 'Only admins and owners invite');
    const role = input.role === undefined ? 'member' : parseOrgRole(input.role);
    if (role === 'owner' && actor !== 'owner') throw orgErrors.inviteOwnerNeedsOwner();
    const email = input.email === undefined || input.email === null ? null : normalizeEmail(input.email);
    if ((await this.#store.orgs.countInvites(orgId)) >= MAX_INVITES_PER_ORG) {
      throw orgErrors.tooManyInvites(MAX_INVITES_PER_ORG);
    }
    const token = INVITE_PREFIX + randomBytes(32).toString('base64url');
    const invite: InviteRecord = {
      id: `inv_${randomBytes(12).toString('hex')}`,
      orgId,
      tokenHash: hashToken(token).toString('hex'),
      email,
      role,
      createdBy: actorId,
      createdAt: now,
      expiresAt: now + INVITE_TTL_MS,
    };
    await this.#store.orgs.putInvite(invite);
    return { invite, token };
  }

  async invites(actorId: string, orgId: string): Promise<InviteRecord[]> {
    await this.#require(actorId, orgId, 'admin', 'Only admins and owners see invites');
    return this.#store.orgs.invites(orgId);
  }

  async revokeInvite(actorId: string, orgId: string, id: string): Promise<void> {
    await this.#require(actorId, orgId, 'admin', 'Only admins and owners revoke invites');
    if (!(await this.#store.orgs.deleteInvite(orgId, id))) throw orgErrors.inviteNotFound();
  }

  /** Accepts an invite once: INVALID_INVITE when unknown, used or expired; INVITE_EMAIL_MISMATCH for the wrong account. */
  async accept(userId: string, token: string, now = this.#clock.now()): Promise<MemberRecord> {
    const tokenHash = hashToken(token).toString('hex');
    const invite = await this.#store.orgs.findInvite(tokenHash);
    if (!invite || invite.expiresAt <= now) throw orgErrors.invalidInvite();
    if (invite.email !== null && (await this.#verifiedEmail(userId)) !== invite.email) {
      throw orgErrors.inviteEmailMismatch();
    }
    const member = await this.#store.orgs.acceptInvite(tokenHash, userId, now);
    if (!member) throw orgErrors.invalidInvite();
    return member;
  }

  /**
   * Selects the org a session works in (null: none). Only sessions select (API keys and JWTs
   * carry no server-side state), and only an org the user is a member of (NOT_A_MEMBER).
   */
  async select(auth: AuthContext, orgId: string | null, select: (tokenHash: string, tenantId: string | null) => Promise<boolean>): Promise<string | null> {
    if (auth.sessionHash === undefined || auth.apiKeyId !== undefined) throw orgErrors.selectNeedsSession();
    if (orgId !== null && (auth.userId === null || (await this.#store.orgs.role(orgId, auth.userId)) === null)) {
      throw orgErrors.notAMember(orgId);
    }
    await select(auth.sessionHash, orgId);
    // Selecting the org already selected changes nothing (and must not disconnect the caller).
    if (orgId !== auth.tenantId) this.#emit({ tokenHash: auth.sessionHash });
    return orgId;
  }

  /** The actor's role when it is at least `min`; ORG_NOT_FOUND for non-members, ORG_FORBIDDEN below `min`. */
  async #require(userId: string, orgId: string, min: OrgRole, message: string): Promise<OrgRole> {
    const role = await this.#store.orgs.role(orgId, userId);
    if (role === null) throw orgErrors.orgNotFound(orgId);
    if (rank(role) < rank(min)) throw orgErrors.forbidden(message);
    return role;
  }
}

/** An org in its wire shape. */
export function orgToWire(org: OrgRecord & { role?: OrgRole }): Record<string, unknown> {
  return {
    id: org.id,
    name: org.name,
    created_by: org.createdBy,
    created_at: new Date(org.createdAt).toISOString(),
    ...(org.role !== undefined ? { role: org.role } : {}),
  };
}

/** An invite in its wire shape (never its token or hash). */
export function inviteToWire(invite: InviteRecord): Record<string, unknown> {
  return {
    id: invite.id,
    org_id: invite.orgId,
    email: invite.email,
    role: invite.role,
    created_by: invite.createdBy,
    created_at: new Date(invite.createdAt).toISOString(),
    expires_at: new Date(invite.expiresAt).toISOString(),
  };
}

/** A membership in its wire shape. */
export function memberToWire(member: MemberRecord): Record<string, unknown> {
  return { org_id: member.orgId, user_id: member.userId, role: member.role, created_at: new Date(member.createdAt).toISOString() };
}
