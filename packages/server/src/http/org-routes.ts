import type { FastifyInstance } from 'fastify';
import { inviteToWire, memberToWire, type OrgService, orgToWire, parseOrgRole } from '../auth/org-service.js';
import type { SessionService } from '../auth/session-service.js';
import type { AuthLimits } from '../auth/auth-limits.js';
import { httpErrors } from '../errors/index.js';
import { limitedBy } from './rate-limit.js';
import { requireUser } from './request-context.js';

type OrgParams = { Params: { id: string } };
type MemberParams = { Params: { id: string; uid: string } };

function body(value: unknown): Record<string, unknown> {
  return (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
}

/** Orgs, members, invites and org selection at Pylon's paths (§2.11 of the reference); sessions only, never API keys. */
export function registerOrgRoutes(app: FastifyInstance, deps: { orgs: OrgService; sessions: SessionService; rateLimit: number; limits: AuthLimits }): void {
  const { orgs } = deps;
  const limit = { max: deps.rateLimit, windowMs: 60_000 };
  const limited = limitedBy((address) => deps.limits.hit([{ bucket: 'orgs', subject: address, limit }]));

  app.post('/api/auth/orgs', { preHandler: limited }, async (request, reply) => {
    const org = await orgs.create(requireUser(request), body(request.body).name);
    return reply.code(201).send(orgToWire(org));
  });

  app.get('/api/auth/orgs', { preHandler: limited }, async (request) => (await orgs.list(requireUser(request))).map(orgToWire));

  app.get<OrgParams>('/api/auth/orgs/:id', { preHandler: limited }, async (request) => orgToWire(await orgs.get(requireUser(request), request.params.id)));

  app.delete<OrgParams>('/api/auth/orgs/:id', { preHandler: limited }, async (request) => {
    await orgs.delete(requireUser(request), request.params.id);
    return { deleted: true };
  });

  app.get<OrgParams>('/api/auth/orgs/:id/members', { preHandler: limited }, async (request) => (await orgs.members(requireUser(request), request.params.id)).map(memberToWire));

  app.put<MemberParams>('/api/auth/orgs/:id/members/:uid', { preHandler: limited }, async (request) => {
    const actor = requireUser(request);
    return memberToWire(await orgs.putMember(actor, request.params.id, request.params.uid, parseOrgRole(body(request.body).role)));
  });

  app.delete<MemberParams>('/api/auth/orgs/:id/members/:uid', { preHandler: limited }, async (request) => {
    await orgs.removeMember(requireUser(request), request.params.id, request.params.uid);
    return { removed: true };
  });

  app.post<OrgParams>('/api/auth/orgs/:id/invites', { preHandler: limited }, async (request, reply) => {
    const b = body(request.body);
    const { invite, token } = await orgs.invite(requireUser(request), request.params.id, { email: b.email, role: b.role });
    return reply.code(201).send({ token, ...inviteToWire(invite) });
  });

  app.get<OrgParams>('/api/auth/orgs/:id/invites', { preHandler: limited }, async (request) => (await orgs.invites(requireUser(request), request.params.id)).map(inviteToWire));

  app.delete<{ Params: { id: string; iid: string } }>('/api/auth/orgs/:id/invites/:iid', { preHandler: limited }, async (request) => {
    await orgs.revokeInvite(requireUser(request), request.params.id, request.params.iid);
    return { revoked: true };
  });

  app.post<{ Params: { token: string } }>('/api/auth/invites/:token/accept', { preHandler: limited }, async (request) =>
    memberToWire(await orgs.accept(requireUser(request), request.params.token)),
  );

  app.post('/api/auth/select-org', { preHandler: limited }, async (request) => {
    const b = body(request.body);
    const orgId = b.orgId !== undefined ? b.orgId : b.org_id;
    if (orgId !== null && typeof orgId !== 'string') throw httpErrors.invalidOrgSelection();
    requireUser(request);
    const tenantId = await orgs.select(request.auth, orgId, (hash, tenant) => deps.sessions.selectTenant(hash, tenant));
    return { tenantId };
  });
}
