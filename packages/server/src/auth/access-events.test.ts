import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../access/auth-context.js';
import { AuthedConnections } from './access-events.js';

const as = (userId: string, extra: Partial<AuthContext> = {}): AuthContext => ({ userId, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null, ...extra });

describe('AuthedConnections', () => {
  it('ends exactly the connections a revocation or an access change concerns, once, and moves its epoch', () => {
    const connections = new AuthedConnections();
    const ended: string[] = [];
    const add = (name: string, auth: AuthContext) => connections.add(auth, (code) => ended.push(`${name}:${code}`), { expire: false });
    add('alice-a', as('alice', { sessionHash: 'a' }));
    add('alice-b', as('alice', { sessionHash: 'b', tenantId: 'org1' }));
    add('bob', as('bob', { tenantId: 'org1' }));
    add('admin', { ...as('root'), isAdmin: true });
    const closed = add('carol', as('carol'));
    closed();
    expect(connections.size).toBe(4);
    const epoch = connections.epoch;

    connections.closeRevoked({ tokenHash: 'a' });
    expect(ended).toEqual(['alice-a:UNAUTHORIZED']);
    connections.closeAccessChanged({ orgId: 'org1', userId: 'bob' });
    expect(ended).toEqual(['alice-a:UNAUTHORIZED', 'bob:ACCESS_CHANGED']);
    connections.closeRevoked({ userId: 'alice' });
    connections.closeRevoked({ userId: 'alice' });
    connections.closeRevoked({ userId: 'root' });
    connections.closeRevoked({ userId: 'carol' });
    expect(ended).toEqual(['alice-a:UNAUTHORIZED', 'bob:ACCESS_CHANGED', 'alice-b:UNAUTHORIZED']);
    expect(connections.size).toBe(1);
    expect(connections.epoch).toBe(epoch + 6);
  });

  it('ends a stream at its expiry, and leaves a connection that checks its own expiry alone', async () => {
    const connections = new AuthedConnections();
    const ended: string[] = [];
    const expiresAt = Date.now() + 30;
    connections.add(as('dana', { expiresAt }), (code) => ended.push(`stream:${code}`));
    connections.add(as('dana', { expiresAt }), (code) => ended.push(`socket:${code}`), { expire: false });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(ended).toEqual(['stream:SESSION_EXPIRED']);
    expect(connections.size).toBe(1);
  });
});
