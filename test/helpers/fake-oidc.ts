import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/** Who signs in at the fake provider next, and how its id_token is made (to test hostile answers). */
export interface FakeLogin {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  /** Sign the id_token with a key that is not in the JWKS. */
  wrongKey?: boolean;
  audience?: string;
  nonce?: string;
  issuer?: string;
}

/** A token request as the fake provider saw it. */
export interface TokenRequest {
  readonly params: URLSearchParams;
  readonly verifierMatched: boolean;
}

/**
 * A local OpenID Connect provider for tests (the other side of a sign-in, not the thing tested):
 * discovery, JWKS, an authorize endpoint that signs in `login` at once and redirects back with a
 * code, and a token endpoint that checks the client, the redirect URI and PKCE (S256) and issues
 * a signed id_token. It also answers GitHub's `/user` and `/user/emails` for `github`-kind tests.
 */
export class FakeOidc {
  readonly server: Server;
  readonly issuer: string;
  login: FakeLogin = { sub: 'sub-1', email: 'ann@example.com', email_verified: true, name: 'Ann' };
  /** GitHub's answers for `/user/emails`. */
  githubEmails: Array<{ email: string; primary: boolean; verified: boolean }> = [];
  readonly authorizeRequests: URLSearchParams[] = [];
  readonly tokenRequests: TokenRequest[] = [];
  readonly #codes = new Map<string, { params: URLSearchParams; login: FakeLogin }>();
  readonly #tokens = new Map<string, FakeLogin>();
  #key!: CryptoKey;
  #wrongKey!: CryptoKey;
  #jwk!: Record<string, unknown>;

  private constructor(server: Server, issuer: string) {
    this.server = server;
    this.issuer = issuer;
  }

  static async start(clientId: string, clientSecret: string): Promise<FakeOidc> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeOidc(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const pair = await generateKeyPair('RS256', { extractable: true });
    fake.#key = pair.privateKey;
    fake.#wrongKey = (await generateKeyPair('RS256')).privateKey;
    fake.#jwk = { ...(await exportJWK(pair.publicKey)), kid: 'fake-1', alg: 'RS256', use: 'sig' };
    server.on('request', (req, res) => {
      void fake.#handle(req, clientId, clientSecret).then(
        ({ status, body, location }) => {
          if (location) res.setHeader('location', location);
          if (body !== undefined) res.setHeader('content-type', 'application/json');
          res.statusCode = status;
          res.end(body === undefined ? undefined : JSON.stringify(body));
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        },
      );
    });
    return fake;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, clientId: string, clientSecret: string): Promise<{ status: number; body?: unknown; location?: string }> {
    const url = new URL(req.url ?? '/', this.issuer);
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
        return {
          status: 200,
          body: {
            issuer: this.issuer,
            authorization_endpoint: `${this.issuer}/authorize`,
            token_endpoint: `${this.issuer}/token`,
            jwks_uri: `${this.issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
          },
        };
      case 'GET /jwks':
        return { status: 200, body: { keys: [this.#jwk] } };
      case 'GET /authorize':
      case 'GET /login/oauth/authorize': {
        this.authorizeRequests.push(url.searchParams);
        const code = randomBytes(16).toString('hex');
        this.#codes.set(code, { params: url.searchParams, login: { ...this.login } });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        return { status: 302, location: back.href };
      }
      case 'POST /token':
      case 'POST /login/oauth/access_token': {
        const params = new URLSearchParams(await readBody(req));
        const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : null;
        const [id, secret] = basic ? basic.split(':').map(decodeURIComponent) : [params.get('client_id'), params.get('client_secret')];
        const issued = this.#codes.get(params.get('code') ?? '');
        const verifier = params.get('code_verifier');
        const verifierMatched = issued !== undefined && verifier !== null && createHash('sha256').update(verifier).digest('base64url') === issued.params.get('code_challenge');
        this.tokenRequests.push({ params, verifierMatched });
        if (id !== clientId || secret !== clientSecret) return { status: 401, body: { error: 'invalid_client' } };
        if (!issued) return { status: 400, body: { error: 'invalid_grant', error_description: 'unknown or used code' } };
        this.#codes.delete(params.get('code')!);
        if (params.get('redirect_uri') !== issued.params.get('redirect_uri')) return { status: 400, body: { error: 'invalid_grant', error_description: 'redirect_uri' } };
        if (!verifierMatched) return { status: 400, body: { error: 'invalid_grant', error_description: 'PKCE verifier' } };
        const login = issued.login;
        const accessToken = randomBytes(16).toString('hex');
        this.#tokens.set(accessToken, login);
        const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: 3600 };
        if (issued.params.get('scope')?.split(' ').includes('openid')) {
          const claims: Record<string, unknown> = { sub: login.sub, nonce: login.nonce ?? issued.params.get('nonce') };
          if (login.email !== undefined) claims.email = login.email;
          if (login.email_verified !== undefined) claims.email_verified = login.email_verified;
          if (login.name !== undefined) claims.name = login.name;
          body.id_token = await new SignJWT(claims)
            .setProtectedHeader({ alg: 'RS256', kid: 'fake-1' })
            .setIssuer(login.issuer ?? this.issuer)
            .setAudience(login.audience ?? clientId)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(login.wrongKey ? this.#wrongKey : this.#key);
        }
        return { status: 200, body };
      }
      case 'GET /user':
      case 'GET /user/emails': {
        const login = this.#tokens.get(req.headers.authorization?.replace(/^Bearer /, '') ?? '');
        if (!login) return { status: 401, body: { message: 'Bad credentials' } };
        if (url.pathname === '/user') return { status: 200, body: { id: Number(login.sub), login: login.name ?? 'octo', name: login.name ?? null } };
        return { status: 200, body: this.githubEmails };
      }
      default:
        return { status: 404, body: { error: 'not_found' } };
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
