import { node, type CompareOperator, type PolicyExpr } from './ast.js';
import { tokenize, type Punct, type Token } from './lexer.js';
import { policyDiagnostic, PolicyError, type PolicyOrigin } from './policy-error.js';

/**
 * Recursive descent over the grammar (`!` binds tighter than comparisons, as in Pylon and JS;
 * comparisons do not chain):
 *
 *   or      := and ("||" and)*
 *   and     := compare ("&&" compare)*
 *   compare := unary ((== | != | < | <= | > | >= | in) unary)?
 *   unary   := "!" unary | primary
 *   primary := STRING | NUMBER | true | false | null | "(" or ")" | "[" (or ("," or)*)? "]"
 *            | "exists" "(" IDENT "," IDENT "=>" or ")"
 *            | path ("(" (or ("," or)*)? ")")?
 *   path    := IDENT ("." IDENT)*
 */

const MAX_DEPTH = 64;
const COMPARE_OPS: ReadonlySet<string> = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
    private readonly origin: PolicyOrigin | undefined,
  ) {}

  private get token(): Token {
    return this.tokens[this.pos]!;
  }

  private fail(token: Token, text: string): never {
    throw new PolicyError([policyDiagnostic('POLICY_SYNTAX', this.source, token.offset, this.origin, text)]);
  }

  private describe(token: Token): string {
    if (token.type === 'eof') return 'the end of the expression';
    if (token.type === 'string') return `string ${JSON.stringify(token.value)}`;
    return `"${String(token.value)}"`;
  }

  private isPunct(value: Punct): boolean {
    return this.token.type === 'punct' && this.token.value === value;
  }

  private expect(value: Punct, what: string): void {
    if (!this.isPunct(value)) this.fail(this.token, `expected ${what}, found ${this.describe(this.token)}`);
    this.pos++;
  }

  private enter(token: Token): void {
    if (++this.depth > MAX_DEPTH) {
      throw new PolicyError([policyDiagnostic('POLICY_TOO_DEEP', this.source, token.offset, this.origin, `expression nests deeper than ${MAX_DEPTH} levels`)]);
    }
  }

  parse(): PolicyExpr {
    const first = this.token;
    if (first.type === 'eof') this.fail(first, 'the expression is empty');
    const expr = this.or();
    const rest = this.token;
    if (rest.type !== 'eof') this.fail(rest, `unexpected ${this.describe(rest)}`);
    return expr;
  }

  private or(): PolicyExpr {
    const offset = this.token.offset;
    const operands = [this.and()];
    while (this.isPunct('||')) {
      this.pos++;
      operands.push(this.and());
    }
    return operands.length === 1 ? operands[0]! : node({ kind: 'or', operands: Object.freeze(operands), offset });
  }

  private and(): PolicyExpr {
    const offset = this.token.offset;
    const operands = [this.compare()];
    while (this.isPunct('&&')) {
      this.pos++;
      operands.push(this.compare());
    }
    return operands.length === 1 ? operands[0]! : node({ kind: 'and', operands: Object.freeze(operands), offset });
  }

  private compare(): PolicyExpr {
    const left = this.unary();
    const op = this.token;
    let expr: PolicyExpr;
    if (op.type === 'punct' && COMPARE_OPS.has(op.value)) {
      this.pos++;
      expr = node({ kind: 'compare', op: op.value as CompareOperator, left, right: this.unary(), offset: op.offset });
    } else if (op.type === 'ident' && op.value === 'in') {
      this.pos++;
      expr = node({ kind: 'in', item: left, list: this.unary(), offset: op.offset });
    } else {
      return left;
    }
    const next = this.token;
    if ((next.type === 'punct' && COMPARE_OPS.has(next.value)) || (next.type === 'ident' && next.value === 'in')) {
      this.fail(next, 'comparisons do not chain; join them with && or use parentheses');
    }
    return expr;
  }

  private unary(): PolicyExpr {
    const token = this.token;
    if (token.type === 'punct' && token.value === '!') {
      this.pos++;
      this.enter(token);
      const operand = this.unary();
      this.depth--;
      return node({ kind: 'not', operand, offset: token.offset });
    }
    return this.primary();
  }

  private list(close: Punct, what: string): PolicyExpr[] {
    const items: PolicyExpr[] = [];
    if (this.isPunct(close)) {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.or());
      if (this.isPunct(',')) {
        this.pos++;
        continue;
      }
      this.expect(close, what);
      return items;
    }
  }

  private primary(): PolicyExpr {
    const token = this.token;
    switch (token.type) {
      case 'string':
      case 'number':
        this.pos++;
        return node({ kind: 'literal', value: token.value, offset: token.offset });
      case 'punct':
        if (token.value === '(') {
          this.pos++;
          this.enter(token);
          const inner = this.or();
          this.depth--;
          this.expect(')', '")"');
          return inner;
        }
        if (token.value === '[') {
          this.pos++;
          this.enter(token);
          const items = this.list(']', '"," or "]"');
          this.depth--;
          return node({ kind: 'list', items: Object.freeze(items), offset: token.offset });
        }
        return this.fail(token, `expected a value, found ${this.describe(token)}`);
      case 'eof':
        return this.fail(token, 'the expression ends too early');
      case 'ident':
        return this.pathOrCall(token);
    }
  }

  /** `exists(Entity, r => body)`, after the `exists` token. */
  private exists(first: Token & { type: 'ident' }): PolicyExpr {
    const open = this.token;
    this.pos++;
    this.enter(open);
    const entity = this.token;
    if (entity.type !== 'ident')
      this.fail(entity, `expected an entity name after "exists(", e.g. exists(Membership, m => m.userId == auth.userId), found ${this.describe(entity)}`);
    this.pos++;
    this.expect(',', '"," after the entity name');
    const binding = this.token;
    if (binding.type !== 'ident') this.fail(binding, `expected a name for the related row, e.g. m => m.userId == auth.userId, found ${this.describe(binding)}`);
    this.pos++;
    this.expect('=>', '"=>" after the row\'s name');
    const body = this.or();
    this.expect(')', '")" to close exists(');
    this.depth--;
    return node({
      kind: 'exists',
      entity: String(entity.value),
      entityOffset: entity.offset,
      binding: String(binding.value),
      bindingOffset: binding.offset,
      body,
      offset: first.offset,
    });
  }

  private pathOrCall(first: Token & { type: 'ident' }): PolicyExpr {
    this.pos++;
    if (first.value === 'true' || first.value === 'false') return node({ kind: 'literal', value: first.value === 'true', offset: first.offset });
    if (first.value === 'null') return node({ kind: 'literal', value: null, offset: first.offset });
    if (first.value === 'in') this.fail(first, 'expected a value before "in"');
    if (first.value === 'exists' && this.isPunct('(')) return this.exists(first);
    const segments = [first.value];
    while (this.isPunct('.')) {
      this.pos++;
      const next = this.token;
      if (next.type !== 'ident') this.fail(next, `expected a name after ".", found ${this.describe(next)}`);
      segments.push(next.value);
      this.pos++;
    }
    if (this.isPunct('(')) {
      const open = this.token;
      this.pos++;
      this.enter(open);
      const args = this.list(')', '"," or ")"');
      this.depth--;
      return node({ kind: 'call', callee: segments.join('.'), args: Object.freeze(args), offset: first.offset });
    }
    const [root, name = '', ...rest] = segments;
    return node({ kind: 'path', root: root!, name, rest: Object.freeze(rest), offset: first.offset });
  }
}

/** Parses a policy expression; throws PolicyError (POLICY_SYNTAX, POLICY_TOO_DEEP) with its position. */
export function parsePolicy(source: string, origin?: PolicyOrigin): PolicyExpr {
  return new Parser(source, tokenize(source, origin), origin).parse();
}
