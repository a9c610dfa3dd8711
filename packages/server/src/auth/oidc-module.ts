import type * as Oidc from 'openid-client';

let loaded: Promise<typeof Oidc> | undefined;

/** openid-client, loaded on first use: a server with no sign-in provider never carries it. */
export function oidcModule(): Promise<typeof Oidc> {
  loaded ??= import('openid-client');
  return loaded;
}
