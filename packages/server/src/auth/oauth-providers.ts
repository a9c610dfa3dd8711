import type * as Oidc from 'openid-client';
import { oidcModule } from './oidc-module.js';
import { authErrors } from '../errors/index.js';
import { isLoopback } from './jwt-verifier.js';

/** How one sign-in provider is reached. */
export interface OAuthProviderConfig {
  /** The name in `/api/auth/login/<id>` (lower case). */
  readonly id: string;
  /** `oidc`: discovery from `issuer`, identity from the verified id_token; `github`: OAuth 2 and GitHub's user API. */
  readonly kind: 'oidc' | 'github';
  readonly clientId: string;
  readonly clientSecret: string;
  /** The OIDC issuer (`oidc`). */
  readonly issuer?: string;
  readonly scopes: string;
  /** The redirect URI registered with the provider; default `<public url>/api/auth/callback/<id>`. */
  readonly redirectUri?: string;
  /** `github` only: where its endpoints live (default github.com and api.github.com). */
  readonly githubUrls?: { readonly web: string; readonly api: string };
}

/** Who the provider says signed in. `emailVerified` is true only when the provider vouches for the email. */
export interface ProviderIdentity {
  readonly subject: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly name: string | null;
}

const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,31}$/;
const TIMEOUT_SECS = 10;

/** Reads `MAST_OAUTH_<NAME>_*` for each name in `names` (MAST_OAUTH_PROVIDERS); throws on a missing variable. */
export function oauthProvidersFromEnv(names: string | null, env: NodeJS.ProcessEnv): OAuthProviderConfig[] {
  if (!names) return [];
  return names.split(',').map((raw) => {
    const id = raw.trim().toLowerCase();
    const prefix = `MAST_OAUTH_${id.toUpperCase().replace(/-/g, '_')}_`;
    const read = (name: string): string | undefined => env[prefix + name] || undefined;
    const need = (name: string): string => {
      const value = read(name);
      if (!value) throw new Error(`${prefix}${name} is required for the OAuth provider "${id}"`);
      return value;
    };
    const issuer = read('ISSUER') ?? (id === 'google' ? 'https://accounts.google.com' : undefined);
    if (id !== 'github' && !issuer) throw new Error(`${prefix}ISSUER is required for the OAuth provider "${id}" (google and github are built in)`);
    const redirectUri = read('REDIRECT_URI');
    return checkProvider({
      id,
      kind: id === 'github' ? 'github' : 'oidc',
      clientId: need('CLIENT_ID'),
      clientSecret: need('CLIENT_SECRET'),
      ...(issuer ? { issuer } : {}),
      scopes: read('SCOPES') ?? (id === 'github' ? 'read:user user:email' : 'openid email profile'),
      ...(redirectUri ? { redirectUri } : {}),
    });
  });
}

/** Validates a provider's settings (also those given programmatically); throws on a bad one. */
export function checkProvider(p: OAuthProviderConfig): OAuthProviderConfig {
  if (!PROVIDER_ID.test(p.id)) throw new Error(`OAuth provider name "${p.id}" must be 1-32 characters of a-z 0-9 _ -`);
  if (p.kind === 'oidc') {
    const issuer = new URL(p.issuer ?? '');
    if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && isLoopback(issuer))) {
      throw new Error(`OAuth provider "${p.id}": the issuer must be https (http only on a loopback address)`);
    }
    if (!p.scopes.split(' ').includes('openid')) throw new Error(`OAuth provider "${p.id}": OIDC scopes must include openid`);
  }
  return p;
}

/** The openid-client configuration of a provider, discovered once and cached (failures are retried). */
export class ProviderClient {
  readonly config: OAuthProviderConfig;
  #client: Promise<Oidc.Configuration> | null = null;

  constructor(config: OAuthProviderConfig) {
    this.config = config;
  }

  /** The client configuration; IDP_UNAVAILABLE when discovery fails. */
  async client(): Promise<Oidc.Configuration> {
    this.#client ??= this.#build();
    try {
      return await this.#client;
    } catch (err) {
      this.#client = null;
      throw authErrors.idpUnavailable(err, this.config.id);
    }
  }

  async #build(): Promise<Oidc.Configuration> {
    const oidc = await oidcModule();
    const p = this.config;
    if (p.kind === 'github') {
      const web = p.githubUrls?.web ?? 'https://github.com';
      const server = { issuer: web, authorization_endpoint: `${web}/login/oauth/authorize`, token_endpoint: `${web}/login/oauth/access_token` };
      const client = new oidc.Configuration(server, p.clientId, p.clientSecret);
      client.timeout = TIMEOUT_SECS;
      if (new URL(web).protocol === 'http:') oidc.allowInsecureRequests(client);
      return client;
    }
    const issuer = new URL(p.issuer!);
    // Plain http is allowed only for a loopback issuer (a provider a test or a dev machine runs).
    const insecure = issuer.protocol === 'http:' && isLoopback(issuer);
    // openid-client trusts an id_token from the token endpoint on TLS alone (OIDC Core 3.1.3.7);
    // Mast verifies its signature against the issuer's JWKS as well.
    const execute = insecure ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] : [oidc.enableNonRepudiationChecks];
    return oidc.discovery(issuer, p.clientId, p.clientSecret, undefined, { timeout: TIMEOUT_SECS, execute });
  }

  /**
   * Who signed in, from the token response: the verified id_token's claims (`oidc`; the email
   * counts as verified only when `email_verified` is true), or GitHub's user API and its list of
   * verified emails (`github`; only the primary email, and only when GitHub marks it verified).
   */
  async identity(tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers): Promise<ProviderIdentity> {
    if (this.config.kind === 'oidc') {
      const claims = tokens.claims();
      if (!claims) throw authErrors.noIdToken();
      return {
        subject: claims.sub,
        email: typeof claims.email === 'string' ? claims.email : null,
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name : null,
      };
    }
    const api = this.config.githubUrls?.api ?? 'https://api.github.com';
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(`${api}${path}`, {
        headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/vnd.github+json', 'user-agent': 'mast' },
        signal: AbortSignal.timeout(TIMEOUT_SECS * 1000),
      });
      if (!res.ok) throw authErrors.githubStatus(res.status, path);
      return res.json();
    };
    const user = (await get('/user')) as { id?: unknown; name?: unknown; login?: unknown };
    if (typeof user.id !== 'number' && typeof user.id !== 'string') throw authErrors.githubNoUserId();
    const emails = (await get('/user/emails')) as Array<{ email?: unknown; primary?: unknown; verified?: unknown }>;
    const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true && typeof e.email === 'string') : undefined;
    return {
      subject: String(user.id),
      email: primary ? (primary.email as string) : null,
      emailVerified: primary?.verified === true,
      name: typeof user.name === 'string' ? user.name : typeof user.login === 'string' ? user.login : null,
    };
  }
}
